import { CairnError } from '../core/index.js';
import type { Address, CloseHandler, Stream } from '../transport/types.js';

/**
 * Test helpers for the rpc brick: a manual clock and an in-memory stream pair that honours the
 * Stream contract of `transport/types.ts`. Exported for tests only (not from `index.ts`).
 */

export { ManualClock } from '../core/manual-clock.js';

/** Options of {@link memoryStreamPair}. */
export interface MemoryStreamOptions {
  /** Largest frame; default 16 MiB. */
  maxFrameBytes?: number;
  /** Buffered bytes above which `send` returns false; default 1 MiB. */
  highWaterBytes?: number;
  /** Buffered bytes over which `send` throws TRANSPORT_BACKPRESSURE; default 64 MiB. */
  maxBufferBytes?: number;
}

type Item = { readonly frame: Uint8Array } | { readonly close: true };

/**
 * One end of an in-memory stream. Frames are copied on send and delivered in order on later
 * microtasks; `hold()` stops delivery (the bytes stay buffered) until `release()`.
 */
export class MemoryStream implements Stream {
  /** Frames accepted by `send`. */
  framesSent = 0;
  /** Frames delivered to this end's handler. */
  framesDelivered = 0;
  /** Exceptions thrown by this end's handlers (the contract says they must not throw). */
  handlerErrors: unknown[] = [];
  peer!: MemoryStream;
  private isOpen = true;
  private buffered = 0;
  private aboveHighWater = false;
  private held = false;
  private scheduled = false;
  private readonly queue: Item[] = [];
  private frameHandler: (frame: Uint8Array) => void = () => {};
  private drainHandler: () => void = () => {};
  private closeHandler: CloseHandler = () => {};

  constructor(
    readonly remoteAddress: Address,
    private readonly options: Required<MemoryStreamOptions>,
  ) {}

  get open(): boolean {
    return this.isOpen;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  send(frame: Uint8Array): boolean {
    if (!this.isOpen) throw new CairnError('TRANSPORT_CLOSED', `stream to ${this.remoteAddress} is closed`);
    if (frame.length > this.options.maxFrameBytes) {
      throw new CairnError('TRANSPORT_FRAME_TOO_LARGE', `frame of ${frame.length} bytes`);
    }
    if (this.buffered + frame.length > this.options.maxBufferBytes) {
      throw new CairnError('TRANSPORT_BACKPRESSURE', `${this.buffered} bytes buffered`);
    }
    this.framesSent++;
    this.buffered += frame.length;
    this.queue.push({ frame: frame.slice() });
    this.schedule();
    if (this.buffered > this.options.highWaterBytes) this.aboveHighWater = true;
    return this.buffered <= this.options.highWaterBytes;
  }

  async write(frame: Uint8Array): Promise<void> {
    if (this.send(frame)) return;
    await new Promise<void>((resolve) => this.onDrain(resolve));
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: CloseHandler): void {
    this.closeHandler = handler;
  }

  close(): void {
    if (!this.isOpen || this.queue.some((i) => 'close' in i)) return;
    this.queue.push({ close: true });
    this.schedule();
  }

  destroy(error?: Error): void {
    this.sever(error ?? new CairnError('TRANSPORT_CLOSED', 'the stream was destroyed'), error);
  }

  /** Simulates a network failure: both ends close at once with `error`, queued frames are lost. */
  sever(
    error: Error = new CairnError('TRANSPORT_CLOSED', 'connection reset'),
    localError: Error | undefined = error,
  ): void {
    if (!this.isOpen) return;
    this.finish(localError);
    this.peer.finish(error);
  }

  /** Stops delivering frames from this end (they stay buffered, counting against backpressure). */
  hold(): void {
    this.held = true;
  }

  /** Resumes delivery after {@link hold}. */
  release(): void {
    this.held = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.held) return;
    this.scheduled = true;
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    while (!this.held && this.isOpen && this.queue.length > 0) {
      const item = this.queue.shift()!;
      if ('close' in item) {
        this.finish(undefined);
        this.peer.finish(undefined);
        return;
      }
      this.buffered -= item.frame.length;
      this.peer.deliver(item.frame);
      if (this.aboveHighWater && this.buffered <= this.options.highWaterBytes) {
        this.aboveHighWater = false;
        this.guard(() => this.drainHandler());
      }
    }
  }

  private deliver(frame: Uint8Array): void {
    if (!this.isOpen) return;
    this.framesDelivered++;
    this.guard(() => this.frameHandler(frame));
  }

  private finish(error: Error | undefined): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.queue.length = 0;
    this.buffered = 0;
    queueMicrotask(() => this.guard(() => this.closeHandler(error)));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.handlerErrors.push(err);
    }
  }
}

/**
 * Two connected in-memory stream ends.
 *
 * @param options - frame and buffer limits
 * @param addresses - the remote address each end reports; default `['b:1', 'a:1']` (end 0 talks to b)
 */
export function memoryStreamPair(
  options: MemoryStreamOptions = {},
  addresses: readonly [Address, Address] = ['b:1', 'a:1'],
): [MemoryStream, MemoryStream] {
  const full: Required<MemoryStreamOptions> = {
    maxFrameBytes: options.maxFrameBytes ?? 16 * 1024 * 1024,
    highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
    maxBufferBytes: options.maxBufferBytes ?? 64 * 1024 * 1024,
  };
  const a = new MemoryStream(addresses[0], full);
  const b = new MemoryStream(addresses[1], full);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Resolves after every pending microtask has run (one macrotask turn): all in-memory deliveries
 * and promise chains that need no timer have settled. Deterministic, not a sleep.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
