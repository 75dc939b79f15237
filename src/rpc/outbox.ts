import { batchOverheadBytes, encodeBatch } from './messages.js';

/**
 * The outgoing queue of one channel, which batches small messages into frames.
 *
 * Rule: messages queued in the same microtask turn share one frame, as long as the frame stays
 * within `maxBatchBytes` (envelope included) and `maxBatchCount`. The queue never holds more than
 * one frame's worth: a message that would overflow it first sends what is queued; a queue that is
 * full (by count or bytes) is sent at once; otherwise it is sent when the microtask queued by its
 * first message runs. A message larger than `maxBatchBytes` therefore travels alone, and a frame
 * of one message is that message itself (no batch envelope). Memory held is at most one frame.
 *
 * Ordering: frames leave in queue order and messages keep their order inside a frame, so the
 * peer sees messages exactly in the order they were queued.
 */

/** One queued message. */
export interface OutboxEntry {
  /** The encoded message. */
  readonly bytes: Uint8Array;
  /** The correlation id when the message is one of our requests (so a send failure can fail the call). */
  readonly requestId: number | undefined;
  /** Set when the message was withdrawn before it was sent (a request cancelled while queued). */
  withdrawn: boolean;
  /** Set once the message has been handed to the stream. */
  sent: boolean;
}

/** Receives each frame with the entries it carries; handles (and never rethrows) send errors. */
export type FrameSink = (frame: Uint8Array, entries: readonly OutboxEntry[]) => void;

/** Batch limits the outbox applies. */
export interface OutboxLimits {
  readonly maxBatchBytes: number;
  readonly maxBatchCount: number;
}

/** See the module comment. */
export class Outbox {
  private queue: OutboxEntry[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private closed = false;

  /**
   * @param sink - where frames go
   * @param limits - batch limits
   */
  constructor(
    private readonly sink: FrameSink,
    private readonly limits: OutboxLimits,
  ) {}

  /** Messages waiting for the next flush. */
  get length(): number {
    return this.queue.length;
  }

  /** Queues an encoded message; returns its entry (to withdraw it while still queued). */
  push(bytes: Uint8Array, requestId?: number): OutboxEntry {
    const entry: OutboxEntry = { bytes, requestId, withdrawn: false, sent: false };
    if (this.closed) return entry;
    const { maxBatchBytes, maxBatchCount } = this.limits;
    // The queue always fits one frame: flush first when this message would overflow it.
    const count = this.queue.length + 1;
    if (
      count > 1 &&
      (count > maxBatchCount || this.queuedBytes + bytes.length + batchOverheadBytes(count) > maxBatchBytes)
    ) {
      this.flush();
    }
    this.queue.push(entry);
    this.queuedBytes += bytes.length;
    if (
      this.queue.length >= maxBatchCount ||
      this.queuedBytes + batchOverheadBytes(this.queue.length) >= maxBatchBytes
    ) {
      this.flush(); // full: no later message could join it
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        if (this.scheduled) this.flush();
      });
    }
    return entry;
  }

  /** Sends everything queued now as one frame (the queue never holds more than one frame's worth). */
  flush(): void {
    this.scheduled = false;
    const entries = this.queue.filter((e) => !e.withdrawn);
    this.queue = [];
    this.queuedBytes = 0;
    if (entries.length === 0 || this.closed) return;
    for (const e of entries) e.sent = true;
    const frame = entries.length === 1 ? entries[0]!.bytes : encodeBatch(entries.map((e) => e.bytes));
    this.sink(frame, entries);
  }

  /** Drops everything queued and ignores later pushes (the channel has closed). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
  }
}
