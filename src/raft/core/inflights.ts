import { assert } from '../../core/assert.js';

/**
 * The window of `app` messages sent to one follower and not yet acknowledged, by the last index
 * each carried (etcd-io/raft's tracker.Inflights). When full, the leader stops sending until an
 * acknowledgement frees a slot: flow control by message count.
 */
export class Inflights {
  private readonly buffer: number[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    assert(capacity > 0, `inflights capacity must be positive, got ${capacity}`);
  }

  /** Messages in flight. */
  get count(): number {
    return this.buffer.length - this.start;
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.count >= this.capacity;
  }

  /** Records a message whose last entry is `index`; indexes must grow. */
  add(index: number): void {
    assert(!this.full(), 'cannot add to a full inflights window');
    const last = this.buffer[this.buffer.length - 1];
    assert(this.count === 0 || last === undefined || index > last, `inflight ${index} is not above ${last}`);
    this.buffer.push(index);
  }

  /** Frees every message whose last index is at most `to` (acknowledged). */
  freeLE(to: number): void {
    while (this.start < this.buffer.length && this.buffer[this.start]! <= to) this.start++;
    this.compactBuffer();
  }

  /** Frees the oldest message: a heartbeat answer from a full window lets one more through. */
  freeFirstOne(): void {
    if (this.count > 0) this.start++;
    this.compactBuffer();
  }

  /** Frees everything. */
  reset(): void {
    this.buffer.length = 0;
    this.start = 0;
  }

  private compactBuffer(): void {
    if (this.start === this.buffer.length) this.reset();
    else if (this.start > 64 && this.start * 2 > this.buffer.length) {
      this.buffer.splice(0, this.start);
      this.start = 0;
    }
  }
}
