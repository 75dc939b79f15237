import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, silentLogger } from '../core/index.js';
import { NodeIdentity } from '../security/index.js';
import { EventHub } from './events.js';
import type { Member, MembershipEvent } from './types.js';

const member: Member = {
  id: NodeIdentity.fromSeed(new Uint8Array(32).fill(1)).nodeId,
  name: 'a',
  address: '10.0.0.1:7946',
  state: 'alive',
  incarnation: 0,
  generation: 1,
  metadata: {},
  local: false,
  stateSinceMs: 0,
};
const join: MembershipEvent = { type: 'join', member };
const dead: MembershipEvent = { type: 'dead', member: { ...member, state: 'dead' } };
const update = (i: number): MembershipEvent => ({
  type: 'update',
  node: member.id,
  key: 'k',
  value: `${i}`,
  version: i,
});

describe('EventHub', () => {
  it('calls handlers of the type, survives a throwing one, and unsubscribes', () => {
    const hub = new EventHub(silentLogger());
    const got: string[] = [];
    hub.on('join', () => {
      throw new Error('boom');
    });
    const off = hub.on('join', (e) => got.push(`join:${e.member.name}`));
    hub.on('dead', (e) => got.push(`dead:${e.member.state}`));
    hub.publish(join);
    hub.publish(dead);
    off();
    hub.publish(join);
    assert.deepEqual(got, ['join:a', 'dead:dead']);
    assert.equal(hub.handlerErrors, 2);
  });

  it('iterators get events in order, filtered by type, and end on close after their buffer', async () => {
    const hub = new EventHub(silentLogger());
    const all = hub.iterate();
    const deaths = hub.iterate({ types: ['dead'] });
    hub.publish(join);
    hub.publish(update(1));
    hub.publish(dead);
    hub.close();
    const drain = async (it: AsyncIterableIterator<MembershipEvent>) => {
      const out: string[] = [];
      for await (const e of it) out.push(e.type);
      return out;
    };
    assert.deepEqual(await drain(all), ['join', 'update', 'dead']);
    assert.deepEqual(await drain(deaths), ['dead']);
    hub.publish(join); // after close: nobody, and no throw
    assert.deepEqual(await drain(hub.iterate()), [], 'an iterator made after close is done at once');
  });

  it('a waiting iterator wakes on publish', async () => {
    const hub = new EventHub(silentLogger());
    const it = hub.iterate();
    const next = it.next();
    hub.publish(update(7));
    const r = await next;
    assert.equal(r.done, false);
    assert.equal(r.value?.type === 'update' && r.value.value, '7');
  });

  it('an iterator that falls behind its buffer is ended with LIMIT_EXCEEDED after the buffered events', async () => {
    const hub = new EventHub(silentLogger());
    const it = hub.iterate({ bufferSize: 3 });
    const other = hub.iterate({ bufferSize: 100 });
    for (let i = 0; i < 5; i++) hub.publish(update(i));
    const versions: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of it) if (e.type === 'update') versions.push(e.version);
      })(),
      (e: unknown) => e instanceof CairnError && e.code === 'LIMIT_EXCEEDED',
    );
    assert.deepEqual(versions, [0, 1, 2], 'no event skipped silently before the error');
    assert.equal((await it.next()).done, true, 'ended after the error');
    hub.close();
    let n = 0;
    for await (const _ of other) n++;
    assert.equal(n, 5, 'a slow iterator does not affect the others');
    assert.throws(
      () => hub.iterate({ bufferSize: 0 }),
      (e: unknown) => e instanceof CairnError && e.code === 'INVALID_ARGUMENT',
    );
  });

  it('abort and return() end an iterator', async () => {
    const hub = new EventHub(silentLogger());
    const controller = new AbortController();
    const it = hub.iterate({ signal: controller.signal });
    const pending = it.next();
    controller.abort();
    assert.equal((await pending).done, true);
    hub.publish(join);
    assert.equal((await it.next()).done, true, 'nothing after abort');
    const it2 = hub.iterate();
    hub.publish(join);
    await it2.return?.();
    assert.equal((await it2.next()).done, true, 'return() drops the buffer');
  });
});
