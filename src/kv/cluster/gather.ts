import type { Clock } from '../../core/index.js';

/** What {@link gather} collected when it stopped. */
export interface Gathered<T> {
  /** Answers, by node name, in arrival order. */
  readonly results: Map<string, T>;
  /** Failures, by node name. */
  readonly failures: Map<string, unknown>;
  /** True when the deadline (or the signal) stopped it before `enough` held. */
  readonly timedOut: boolean;
}

/**
 * Waits for answers from several replicas at once: resolves as soon as `enough(results)` holds,
 * when every call has settled, or when `timeoutMs` passes on `clock` (or `signal` aborts). Calls
 * still running then are not cancelled (their own rpc deadline ends them); what they answer later
 * is ignored here, and callers that care (hints for failed writes) watch the promises themselves.
 *
 * Never rejects: failures are collected.
 */
export function gather<T>(
  clock: Clock,
  calls: ReadonlyMap<string, Promise<T>>,
  enough: (results: ReadonlyMap<string, T>) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Gathered<T>> {
  const results = new Map<string, T>();
  const failures = new Map<string, unknown>();
  return new Promise((resolve) => {
    let done = false;
    let settled = 0;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clock.cancel(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ results, failures, timedOut });
    };
    const onAbort = () => finish(true);
    const timer = clock.setTimer(timeoutMs, () => finish(true));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) return finish(true);
    const check = () => {
      if (done) return;
      if (enough(results)) finish(false);
      else if (settled === calls.size) finish(false);
    };
    for (const [name, promise] of calls) {
      promise.then(
        (value) => {
          settled++;
          if (!done) results.set(name, value);
          check();
        },
        (err: unknown) => {
          settled++;
          if (!done) failures.set(name, err);
          check();
        },
      );
    }
    check();
  });
}
