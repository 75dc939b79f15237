import { CairnError, CallSignal, type Clock, FifoDeadlines, sleep } from '../../core/index.js';

import { encodeCommand, type StoreCommand } from '../command.js';
import { StoreError } from '../errors.js';
import type { RequestIds } from './ids.js';
import type { StoreServerLimits } from './limits.js';
import { type ApplyOutcome, type RaftPort, raftCode } from './ports.js';
import type { Waiters } from './waiters.js';

/**
 * Writes through raft and reads through ReadIndex, with etcd's timeouts and errors
 * (etcdserver's processInternalRaftRequestOnce and linearizableReadNotify).
 */
export class Proposer {
  /**
   * Deadlines of the proposals in flight, in the order made: every one is `requestTimeoutMs`
   * after its start on a monotonic clock, so the order is deadline order and one timer, armed for
   * the oldest, serves them all (a Node timer per write cost more than the rest of its waiting).
   * Entries of settled proposals leave lazily: from the front, all at once when nothing is in
   * flight, or in a sweep past twice `maxPendingProposals` entries.
   */
  private readonly deadlines: FifoDeadlines<Deadline>;
  private inFlight = 0;

  constructor(
    private readonly raft: RaftPort,
    private readonly waiters: Waiters<ApplyOutcome>,
    private readonly ids: RequestIds,
    private readonly clock: Clock,
    private readonly limits: StoreServerLimits,
  ) {
    this.deadlines = new FifoDeadlines(clock, {
      expire: (d) => this.waiters.cancel(d.requestId, this.timeoutError(d.startLeader)),
      live: (d) => this.waiters.has(d.requestId),
      sweepAt: 2 * limits.maxPendingProposals,
    });
  }

  /**
   * Proposes `cmd` and resolves with its apply outcome on this member.
   *
   * Contract: rejects with StoreError `requestTooLarge` (encoded over maxRequestBytes, nothing
   * proposed), `tooManyRequests` (maxPendingProposals waiting), `noLeader` (no leader for
   * noLeaderWaitMs: nothing was accepted), `stopped`, `timeout` or `timeoutDueToLeaderFail`
   * (not applied within requestTimeoutMs: the write may still apply later), or CairnError
   * `CANCELLED` on abort (the write may still apply).
   */
  async propose(cmd: StoreCommand, signal?: AbortSignal): Promise<ApplyOutcome> {
    const requestId = this.ids.next();
    const data = encodeCommand(requestId, cmd);
    if (data.length > this.limits.maxRequestBytes) throw new StoreError('requestTooLarge');
    if (signal?.aborted) throw cancelled();
    const wait = this.waiters.register(requestId);
    // The waiter may be rejected (timer, abort) while the proposal is still being submitted.
    wait.catch(() => {});
    this.addDeadline(requestId, this.raft.leader());
    const onAbort = signal === undefined ? undefined : () => this.waiters.cancel(requestId, cancelled());
    if (onAbort !== undefined) signal!.addEventListener('abort', onAbort, { once: true });
    try {
      await this.submit(data, signal);
    } catch (err) {
      this.waiters.cancel(requestId, err instanceof Error ? err : new Error(String(err)));
    }
    try {
      return await wait;
    } finally {
      this.settled();
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
    }
  }

  /** Adds a proposal's deadline. */
  private addDeadline(requestId: number, startLeader: number): void {
    this.deadlines.add({ requestId, at: this.clock.now() + this.limits.requestTimeoutMs, startLeader });
    this.inFlight++;
  }

  /** A proposal finished: with none in flight, the timer and the queue go. */
  private settled(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.deadlines.clear();
  }

  /**
   * Waits until this member has applied everything committed when the call was made, confirmed
   * by a quorum (ReadIndex); RaftNode shares one round among concurrent callers.
   */
  async readBarrier(signal?: AbortSignal): Promise<void> {
    const started = this.clock.now();
    const startLeader = this.raft.leader();
    for (;;) {
      // A CallSignal, not an AbortController: one per read, and Node builds an AbortSignal slowly.
      const controller = new CallSignal();
      const onAbort = () => controller.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = this.clock.setTimer(this.limits.requestTimeoutMs, () => controller.abort('timeout'));
      try {
        await this.raft.readIndex(controller.signal);
        return;
      } catch (err) {
        if (signal?.aborted) throw cancelled();
        if (controller.signal.aborted) throw this.timeoutError(startLeader);
        await this.retryOrThrow(err, started, signal);
      } finally {
        this.clock.cancel(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  private async submit(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const started = this.clock.now();
    for (;;) {
      try {
        await this.raft.propose(data, signal);
        return;
      } catch (err) {
        if (signal?.aborted) throw cancelled();
        await this.retryOrThrow(err, started, signal);
      }
    }
  }

  /** Waits a retry interval for a transient raft error, or throws the matching etcd error. */
  private async retryOrThrow(err: unknown, started: number, signal?: AbortSignal): Promise<void> {
    const code = raftCode(err);
    if (code === 'STOPPED') throw new StoreError('stopped', undefined, { cause: err });
    if (code !== 'NO_LEADER' && code !== 'PROPOSAL_DROPPED' && code !== 'NOT_LEADER') {
      if (code === 'TIMEOUT') throw new StoreError('timeout', undefined, { cause: err });
      throw err;
    }
    if (this.clock.now() - started >= this.limits.noLeaderWaitMs) {
      throw new StoreError(this.raft.leader() === 0 ? 'noLeader' : 'timeout', undefined, { cause: err });
    }
    try {
      await sleep(this.clock, this.limits.proposeRetryMs, signal);
    } catch {
      throw cancelled();
    }
  }

  private timeoutError(startLeader: number): StoreError {
    const lead = this.raft.leader();
    return new StoreError(lead !== startLeader || lead === 0 ? 'timeoutDueToLeaderFail' : 'timeout');
  }
}

/** When a proposal times out, and the leader when it was made (to name a leader change). */
interface Deadline {
  readonly requestId: number;
  readonly at: number;
  readonly startLeader: number;
}

/** The error of a call its caller aborted. */
export function cancelled(): CairnError {
  return new CairnError('CANCELLED', 'the store call was cancelled by its caller');
}
