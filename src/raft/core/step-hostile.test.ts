import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8 } from '../../core/bytes.js';
import { Rng } from '../../core/rng.js';
import type { Message, MessageType } from '../types.js';
import { makeMessage } from './message.js';
import { drainReady, makeTestCore, TestNetwork } from './test-network.js';

const FILE = 'src/raft/core/step-hostile.test.ts';
const TYPES: MessageType[] = [
  'hup',
  'beat',
  'prop',
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'heartbeat',
  'heartbeatResp',
  'unreachable',
  'snapStatus',
  'checkQuorum',
  'transferLeader',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
];

describe('step on hostile input', () => {
  it('drops and counts malformed, misaddressed and local-only messages', () => {
    const { core } = makeTestCore(1, { voters: [1, 2, 3], learners: [] });
    const base = makeMessage({ type: 'heartbeat', from: 2, to: 1, term: 1 });
    const cases: [Message, string][] = [
      [{ ...base, to: 9 }, 'wrongRecipient'],
      [{ ...base, from: 1 }, 'fromSelf'],
      [{ ...base, type: 'hup' }, 'localType'],
      [{ ...base, type: 'bogus' as MessageType }, 'malformed'],
      [{ ...base, term: -1 }, 'malformed'],
      [{ ...base, term: 1.5 }, 'malformed'],
      [{ ...base, entries: 'x' as unknown as [] }, 'malformed'],
      [
        { ...base, type: 'app', entries: [{ index: 7, term: 1, type: 'normal', data: new Uint8Array() }] },
        'malformed',
      ],
      [{ ...base, type: 'app', term: 1, logTerm: 2 }, 'malformed'],
      [{ ...base, type: 'snap' }, 'malformed'],
      [{ ...base, type: 'prop' }, 'malformed'],
      [{ ...base, context: new Uint8Array(5000) }, 'malformed'],
      [null as unknown as Message, 'malformed'],
    ];
    for (const [m, reason] of cases) assert.equal(core.step(m), reason, JSON.stringify(m)?.slice(0, 80));
    assert.equal(core.status().term, 0, 'nothing changed the term');
  });

  it('a leader drops an append ack for an index past the end of its log', () => {
    const net = TestNetwork.create([1, 2, 3]);
    net.campaign(1);
    net.stabilize();
    const { core, log } = net.node(1);
    const last = core.status().commit;
    const ack = makeMessage({ type: 'appResp', from: 2, to: 1, term: 2, index: last + 1 });
    assert.equal(core.step(ack), 'malformed');
    drainReady(core, log);
    assert.equal(core.status().progress?.get(2)?.match, last, 'the bogus ack moved nothing');
    assert.equal(core.status().role, 'leader');
  });

  it('never throws for random well-typed messages in any role', () => {
    const seed = Number(process.env.RAFT_HOSTILE_SEED ?? Rng.randomSeed() % 2 ** 31);
    const entry = fc.record({
      term: fc.nat(6),
      index: fc.nat(12),
      type: fc.constantFrom('normal' as const, 'conf' as const),
      data: fc.uint8Array({ maxLength: 8 }),
    });
    const message = fc.record({
      type: fc.constantFrom(...TYPES),
      from: fc.integer({ min: 1, max: 4 }),
      to: fc.constantFrom(1, 1, 1, 2),
      term: fc.nat(6),
      logTerm: fc.nat(6),
      index: fc.nat(12),
      entries: fc.array(entry, { maxLength: 3 }),
      commit: fc.nat(14),
      reject: fc.boolean(),
      rejectHint: fc.nat(12),
      context: fc.option(fc.uint8Array({ minLength: 1, maxLength: 4 }), { nil: undefined }),
    });
    try {
      fc.assert(
        fc.property(fc.array(message, { maxLength: 40 }), fc.nat(3), (msgs, roleSetup) => {
          const net = TestNetwork.create([1, 2, 3]);
          if (roleSetup === 1) net.campaign(1);
          if (roleSetup === 2) net.campaign(2);
          net.stabilize();
          const { core, log } = net.node(1);
          for (const { context, ...fields } of msgs) {
            core.step(makeMessage(context === undefined ? fields : { ...fields, context }));
            drainReady(core, log);
            core.tick();
          }
        }),
        { seed, numRuns: 150 },
      );
    } catch (err) {
      console.error(`seed=${seed} replay: RAFT_HOSTILE_SEED=${seed} node --import tsx --test ${FILE}`);
      throw err;
    }
  });

  it('a read context of the wrong size is refused', () => {
    const { core } = makeTestCore(1, { voters: [1], learners: [] });
    assert.throws(() => core.readIndex(new Uint8Array(0)));
    assert.throws(() => core.readIndex(new Uint8Array(2000)));
    assert.equal(core.readIndex(utf8('ok')), false, 'no leader yet');
  });
});
