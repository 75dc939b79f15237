import { CairnError, describeError, type Logger } from '../core/index.js';
import type { TransportStats } from './stats.js';
import type { Address, CloseHandler, Stream, TransportLimits } from './types.js';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/** The lifecycle of a stream end: `closing` after a local `close()` until the peer's FIN. */
export type StreamState = 'open' | 'closing' | 'closed';

/**
 * What every `Stream` implementation shares, whatever carries its bytes: the handler slots, frames
 * held until a frame handler is set, `write()` and its drain waiters, the drain check, the send-side
 * limit checks, and the once-only close notification. `NetStream` (TCP) and the simulator's
 * `SimStreamEnd` extend it and add how bytes move and how a close reaches the peer.
 *
 * Contract for subclasses: call {@link checkSend} first in `send`, {@link deliver} for every
 * arriving frame, {@link checkDrain} whenever buffered bytes may have fallen, and
 * {@link markClosed} as the first step of their one closing path (it returns false when the end
 * was already closed), then {@link notifyClose} last.
 */
export abstract class StreamEnd implements Stream {
  protected state: StreamState = 'open';
  protected needDrain = false;
  protected inbox: Uint8Array[] = [];
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private drainHandler: (() => void) | undefined;
  private closeHandler: CloseHandler | undefined;
  private closeError: Error | undefined;
  private closeNotified = false;
  private waiters: Waiter[] = [];

  constructor(readonly remoteAddress: Address) {}

  /** The owning transport's counters. */
  protected abstract get stats(): TransportStats;
  /** The owning transport's logger. */
  protected abstract get logger(): Logger;
  /** The owning transport's limits. */
  protected abstract get limits(): TransportLimits;

  abstract get bufferedBytes(): number;
  abstract send(frame: Uint8Array): boolean;
  abstract close(): void;
  abstract destroy(error?: Error): void;

  get open(): boolean {
    return this.state === 'open';
  }

  async write(frame: Uint8Array): Promise<void> {
    if (this.send(frame)) return;
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    // A closed end delivers nothing more: keeping the handler would only keep what it holds.
    if (this.state === 'closed') return;
    this.frameHandler = handler;
    if (this.inbox.length === 0) return;
    const queued = this.inbox;
    this.inbox = [];
    for (const frame of queued) if (!this.deliver(frame)) break;
    if (this.state === 'open' && this.inbox.length === 0) this.inboxEmptied();
  }

  onDrain(handler: () => void): void {
    if (this.state === 'closed') return;
    this.drainHandler = handler;
  }

  onClose(handler: CloseHandler): void {
    this.closeHandler = handler;
    // Closed before anyone listened (e.g. between dial resolving and the caller's next line).
    if (this.state === 'closed' && !this.closeNotified) queueMicrotask(() => this.notifyClose());
  }

  /** Hook: a frame was held because no frame handler is set yet (net: stop reading the socket). */
  protected frameHeld(): void {}

  /** Hook: the held frames were handed to the new frame handler (net: read the socket again). */
  protected inboxEmptied(): void {}

  /**
   * Hook: a frame handler returned and left the stream open, so the peer's frame was accepted by
   * its owner (under sealing: it opened). Net: the stream has proven itself, see `NetStream`.
   */
  protected frameHandled(): void {}

  /**
   * The send-side checks every implementation makes, in order: closed, frame too large, buffer cap.
   *
   * @param length - the frame's length
   * @param bufferedAfter - the bytes that would be buffered with this frame queued
   */
  protected checkSend(length: number, bufferedAfter: number): void {
    if (this.state !== 'open') {
      throw new CairnError('TRANSPORT_CLOSED', `stream to ${this.remoteAddress} is closed`);
    }
    const limits = this.limits;
    if (length > limits.maxFrameBytes) {
      throw new CairnError(
        'TRANSPORT_FRAME_TOO_LARGE',
        `frame of ${length} bytes is over maxFrameBytes=${limits.maxFrameBytes}`,
        { details: { length, max: limits.maxFrameBytes } },
      );
    }
    if (bufferedAfter > limits.maxStreamBufferBytes) {
      throw new CairnError(
        'TRANSPORT_BACKPRESSURE',
        `stream to ${this.remoteAddress} has ${bufferedAfter} bytes buffered, over maxStreamBufferBytes=${limits.maxStreamBufferBytes}`,
      );
    }
  }

  /** Counts a sent frame and returns what `send` returns: false above the high-water mark. */
  protected afterSend(length: number, bufferedAfter: number): boolean {
    const stats = this.stats;
    stats.framesSent++;
    stats.frameBytesSent += length;
    if (bufferedAfter > this.limits.streamHighWaterBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Hands one arriving frame to the frame handler, or holds it until one is set. A throwing handler
   * destroys the stream (it is counted and logged, never thrown to the transport).
   *
   * @returns whether the stream is still open for further frames
   */
  protected deliver(frame: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    const stats = this.stats;
    stats.framesReceived++;
    stats.frameBytesReceived += frame.length;
    const handler = this.frameHandler;
    if (handler === undefined) {
      this.inbox.push(frame);
      this.frameHeld();
      return true;
    }
    try {
      handler(frame);
    } catch (err) {
      stats.drop('handler_error');
      this.logger.error({ peer: this.remoteAddress, err: describeError(err) }, 'frame handler threw');
      this.destroy(new CairnError('INTERNAL', `frame handler threw: ${describeError(err)}`, { cause: err }));
      return false;
    }
    if (this.state !== 'open') return false;
    this.frameHandled();
    return true;
  }

  /** Releases `write()` callers and runs the drain handler once the buffer is back under the mark. */
  protected checkDrain(): void {
    if (!this.needDrain || this.state !== 'open') return;
    if (this.bufferedBytes > this.limits.streamHighWaterBytes) return;
    this.needDrain = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    const handler = this.drainHandler;
    if (handler === undefined) return;
    try {
      handler();
    } catch (err) {
      this.stats.drop('handler_error');
      this.logger.error({ peer: this.remoteAddress, err: describeError(err) }, 'drain handler threw');
    }
  }

  /** Fails every `write()` waiting for drain: the stream is closing. */
  protected rejectWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    if (waiters.length === 0) return;
    const err = new CairnError(
      'TRANSPORT_CLOSED',
      `stream to ${this.remoteAddress} closed while waiting for drain`,
    );
    for (const w of waiters) w.reject(err);
  }

  /**
   * The common first step of closing: marks the end closed with `error` (undefined for clean),
   * drops held frames and fails drain waiters. Returns false when it was closed already.
   */
  protected markClosed(error: Error | undefined): boolean {
    if (this.state === 'closed') return false;
    this.state = 'closed';
    this.inbox = [];
    this.rejectWaiters();
    this.releaseHandlers();
    this.closeError = error;
    this.stats.streamsClosed++;
    return true;
  }

  /** Runs the close handler exactly once (now, or when one is set). */
  protected notifyClose(): void {
    if (this.closeNotified || this.closeHandler === undefined) return;
    this.closeNotified = true;
    const handler = this.closeHandler;
    this.closeHandler = undefined;
    try {
      handler(this.closeError);
    } catch (err) {
      this.stats.drop('handler_error');
      this.logger.error({ peer: this.remoteAddress, err: describeError(err) }, 'close handler threw');
    }
  }

  /**
   * Closes without running any handler and without settling `write()` waiters: the owner vanished
   * (a crash), so none of its code may run again.
   */
  protected vanishQuietly(): void {
    this.state = 'closed';
    this.closeNotified = true;
    this.inbox = [];
    this.waiters = [];
    this.releaseHandlers();
    this.closeHandler = undefined;
  }

  /**
   * Forgets the frame and drain handlers: a closed end runs neither again, and whoever still holds
   * the end (a channel's list of streams, a pool) would otherwise keep everything the handlers'
   * closures hold (a push-pull's summary and records) for as long as it keeps the end.
   */
  private releaseHandlers(): void {
    this.frameHandler = undefined;
    this.drainHandler = undefined;
  }
}
