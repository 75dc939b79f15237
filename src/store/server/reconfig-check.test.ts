import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Member } from '../api.js';
import { type ReconfigView, reconfigRefusal } from './reconfig-check.js';

/** Member `id`: started unless `unstarted`, a voter unless `learner`. */
function m(id: number, opts: { unstarted?: boolean; learner?: boolean } = {}): Member {
  return {
    id,
    name: opts.unstarted ? '' : `m${id}`,
    peerUrls: [`http://10.0.0.${id}:2380`],
    clientUrls: [],
    isLearner: opts.learner === true,
  };
}

function view(members: Member[], inactive: number[] = []): ReconfigView {
  return { self: 1, members, isActive: (id) => !inactive.includes(id) };
}

describe('reconfigRefusal (etcd 3.4 strict reconfiguration check)', () => {
  it('lets a healthy started cluster add, remove and promote', () => {
    const v = view([m(1), m(2), m(3), m(4, { learner: true })]);
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: false }), undefined);
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: true }), undefined);
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 2 }), undefined);
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 1 }), undefined);
    assert.equal(reconfigRefusal(v, { kind: 'promote', id: 4 }), undefined);
  });

  it('refuses a voter add without a started quorum of the grown cluster', () => {
    // 3 voters, one never started: 4 members need 3 started; 2 are.
    const v = view([m(1), m(2), m(3, { unstarted: true })]);
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: false }), 'memberNotEnoughStarted');
    // A learner add has no quorum to protect.
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: true }), undefined);
  });

  it('lets a one-member cluster add its second member (etcd’s restore case)', () => {
    assert.equal(reconfigRefusal(view([m(1)]), { kind: 'add', isLearner: false }), undefined);
    // Two voters, one not started: the third would make 3 members with 1 started.
    const v = view([m(1), m(2, { unstarted: true })]);
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: false }), 'memberNotEnoughStarted');
  });

  it('refuses any add while a voter is inactive, with unhealthy', () => {
    const v = view([m(1), m(2), m(3)], [3]);
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: false }), 'unhealthy');
    assert.equal(reconfigRefusal(v, { kind: 'add', isLearner: true }), 'unhealthy');
    // An inactive learner does not count.
    const w = view([m(1), m(2), m(3), m(4, { learner: true })], [4]);
    assert.equal(reconfigRefusal(w, { kind: 'add', isLearner: false }), undefined);
  });

  it('refuses removing a voter when the others hold no started quorum', () => {
    // Voters 1, 2 (started), 3 and 4 (never started): without 2, {1,3,4} has 1 started of 3.
    const v = view([m(1), m(2), m(3, { unstarted: true }), m(4, { unstarted: true })], [3, 4]);
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 2 }), 'memberNotEnoughStarted');
    // A learner goes whatever the rest looks like.
    const w = view([m(1), m(2, { unstarted: true }), m(3, { learner: true })], [2, 3]);
    assert.equal(reconfigRefusal(w, { kind: 'remove', id: 3 }), undefined);
  });

  it('lets an inactive voter go, and refuses removing an active one when that breaks the active quorum', () => {
    const v = view([m(1), m(2), m(3)], [3]);
    // 3 is down: removing it leaves {1, 2}, both active.
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 3 }), undefined);
    // Removing 2 (active) leaves {1, 3} with only 1 active: 2 active - 1 < quorum of 2.
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 2 }), 'unhealthy');
    // The leader removing itself counts itself active.
    assert.equal(reconfigRefusal(v, { kind: 'remove', id: 1 }), 'unhealthy');
    // Five voters, one down: removing an active one leaves 3 active of 4 (quorum 3).
    const w = view([m(1), m(2), m(3), m(4), m(5)], [5]);
    assert.equal(reconfigRefusal(w, { kind: 'remove', id: 2 }), undefined);
    const x = view([m(1), m(2), m(3), m(4), m(5)], [4, 5]);
    assert.equal(reconfigRefusal(x, { kind: 'remove', id: 2 }), 'unhealthy');
  });

  it('refuses a promotion without a started quorum of the grown cluster', () => {
    // Voters 1 (started), 2 and 3 (not): with the learner, 2 started of 4; quorum 3.
    const v = view([m(1), m(2, { unstarted: true }), m(3, { unstarted: true }), m(4, { learner: true })]);
    assert.equal(reconfigRefusal(v, { kind: 'promote', id: 4 }), 'memberNotEnoughStarted');
    // One voter not started: 3 started of 4.
    const w = view([m(1), m(2), m(3, { unstarted: true }), m(4, { learner: true })]);
    assert.equal(reconfigRefusal(w, { kind: 'promote', id: 4 }), undefined);
  });
});
