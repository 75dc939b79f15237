import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/manual-clock.js';
import { isStoreError } from '../errors.js';
import { RequestIds } from './ids.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { ApplyOutcome, RaftPort } from './ports.js';
import { Proposer } from './proposer.js';
import { Waiters } from './waiters.js';

/** A raft whose ReadIndex answers only when told to, or rejects when its signal aborts. */
function heldReads() {
  const answers: (() => void)[] = [];
  const raft = {
    leader: () => 1,
    readIndex: (signal?: AbortSignal) =>
      new Promise<number>((resolve, reject) => {
        answers.push(() => resolve(7));
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  } as unknown as RaftPort;
  return { raft, answers };
}

function proposer(raft: RaftPort, clock: ManualClock): Proposer {
  const limits = DEFAULT_LIMITS;
  return new Proposer(raft, new Waiters<ApplyOutcome>(10), new RequestIds(1, clock.now()), clock, limits);
}

/** Lets the promise jobs queued so far run (and the ones they queue). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Proposer read barrier', () => {
  it('times out each read at its own deadline; a read answered in time resolves', async () => {
    const clock = new ManualClock();
    const { raft, answers } = heldReads();
    const p = proposer(raft, clock);
    const timeout = DEFAULT_LIMITS.requestTimeoutMs;
    let aDone = false;
    const a = p.readBarrier().finally(() => {
      aDone = true;
    });
    a.catch(() => {});
    clock.advance(3_000);
    let bDone = false;
    const b = p.readBarrier().finally(() => {
      bDone = true;
    });
    b.catch(() => {});
    clock.advance(timeout - 3_000);
    await settle();
    assert.equal(aDone, true, 'the first read timed out at its deadline');
    await assert.rejects(a, (e) => isStoreError(e, 'timeout'));
    assert.equal(bDone, false, 'the second read is still within its time');
    clock.advance(3_000);
    await settle();
    await assert.rejects(b, (e) => isStoreError(e, 'timeout'));
    const c = p.readBarrier();
    clock.advance(timeout - 1);
    answers.at(-1)!();
    await c;
    assert.equal(clock.pending, 0, 'no timer is left once no read is in flight');
  });
});
