/**
 * A cancellation signal for one store call, shaped as an AbortSignal but cheap to build.
 *
 * Why: Node 20 spends about 8 to 18 µs building each AbortSignal (measured: `new AbortController()`
 * is cheap, its `signal` is not), more than the rest of a serializable get's handler. The gRPC
 * layer needs one signal per call and the read barrier one per attempt; with this class each costs
 * an EventTarget (under 1 µs).
 *
 * Contract: `aborted`, `reason`, `onabort`, `throwIfAborted()` and `'abort'` listeners (the `once`
 * option included) behave as an AbortSignal's: {@link abort} sets `aborted` and `reason` (an
 * `AbortError` DOMException when no reason is given), then calls `onabort` and the listeners once;
 * later calls do nothing. It is not a genuine AbortSignal: `AbortSignal.any` refuses it, and so
 * would any API that checks the class rather than the shape. The store's code (raft driver,
 * proposer, read batcher, `sleep`, rpc forwarding, the etcd client store) and Node's APIs that take
 * a signal check the shape only.
 */
export class CallSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((this: AbortSignal, ev: Event) => unknown) | null = null;

  /** Aborts with `reason`; the first call wins. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const event = new Event('abort');
    this.onabort?.call(this.signal, event);
    this.dispatchEvent(event);
  }

  /** Throws `reason` once aborted. */
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** This object as the AbortSignal type the store's call options take. */
  get signal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
