import type { Membership } from '../membership/driver/membership.js';
import type { MembershipEventType } from '../membership/types.js';

/**
 * Blocking reads of the member list, as Consul's blocking queries do it: every answer of
 * `GET /v1/members` carries the node's view index (header `x-cairn-index`), a counter bumped by
 * every membership event (join, alive, suspect, dead, leave, update). A client that passes the
 * index back (`?index=12&wait=5000`) gets its answer when the view has changed since, or when
 * the wait ends, whichever comes first. Watching a cluster is then one request per change
 * instead of a poll every few milliseconds.
 */

/** Limits of blocking reads. */
export const MEMBERS_WATCH_LIMITS = Object.freeze({
  /** Longest wait a client may ask for: a waiting request holds a socket; clients ask again. */
  maxWaitMs: 60_000,
  /** Wait when `index` is given without `wait`. */
  defaultWaitMs: 30_000,
  /**
   * Most requests waiting at once on one node: each holds a socket and a timer, and a handful of
   * watchers (a CLI, a dashboard, a test) is the use; beyond it the answer is 429.
   */
  maxWaiting: 64,
});

const EVENT_TYPES: readonly MembershipEventType[] = ['join', 'alive', 'suspect', 'dead', 'leave', 'update'];

/** The view index of one membership node and the requests waiting for it to change. */
class ViewIndex {
  value = 0;
  readonly waiters = new Set<() => void>();

  constructor(membership: Membership) {
    for (const type of EVENT_TYPES) membership.on(type, () => this.bump());
  }

  private bump(): void {
    this.value++;
    for (const wake of [...this.waiters]) wake();
  }
}

/** Why a blocking read is refused before it waits. */
export type WatchRefusal = { status: 400 | 429; error: string };

/** Blocking reads of member lists; one per HTTP app. */
export class MembersWatch {
  private readonly indexes = new WeakMap<Membership, ViewIndex>();
  private readonly waiting = new Set<() => void>();
  private closed = false;

  /** The current view index of `membership`. */
  index(membership: Membership): number {
    let index = this.indexes.get(membership);
    if (index === undefined) {
      index = new ViewIndex(membership);
      this.indexes.set(membership, index);
    }
    return index.value;
  }

  /**
   * Parses `?index=&wait=`: `undefined` when the request does not block, the wait otherwise, or
   * a refusal.
   */
  parse(query: {
    index?: unknown;
    wait?: unknown;
  }): { index: number; waitMs: number } | WatchRefusal | undefined {
    if (query.index === undefined) return undefined;
    if (typeof query.index !== 'string' || !/^\d{1,15}$/.test(query.index)) {
      return { status: 400, error: 'index must be the x-cairn-index of an earlier answer (an integer)' };
    }
    let waitMs: number = MEMBERS_WATCH_LIMITS.defaultWaitMs;
    if (query.wait !== undefined) {
      if (typeof query.wait !== 'string' || !/^\d{1,9}$/.test(query.wait)) {
        return { status: 400, error: 'wait must be a number of milliseconds' };
      }
      waitMs = Math.min(Number(query.wait), MEMBERS_WATCH_LIMITS.maxWaitMs);
    }
    if (this.waiting.size >= MEMBERS_WATCH_LIMITS.maxWaiting) {
      return {
        status: 429,
        error: `${MEMBERS_WATCH_LIMITS.maxWaiting} requests are already waiting on this node (maxWaiting); retry later`,
      };
    }
    return { index: Number(query.index), waitMs };
  }

  /**
   * Resolves when the view index of `membership` is no longer `seen`, after `waitMs`, when
   * `aborted` fires (the client went away) or when the watch closes, whichever is first.
   */
  wait(membership: Membership, seen: number, waitMs: number, aborted: AbortSignal): Promise<void> {
    if (this.closed || aborted.aborted || this.index(membership) !== seen) return Promise.resolve();
    const index = this.indexes.get(membership)!;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        index.waiters.delete(done);
        this.waiting.delete(done);
        aborted.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      index.waiters.add(done);
      this.waiting.add(done);
      aborted.addEventListener('abort', done, { once: true });
    });
  }

  /** Answers every waiting request now and every later one at once (the server is closing). */
  close(): void {
    this.closed = true;
    for (const done of [...this.waiting]) done();
  }
}
