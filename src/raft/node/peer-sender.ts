import { type Clock, describeError, type Logger } from '../../core/index.js';
import type { Address, Stream, Transport } from '../../transport/types.js';
import type { Message, NodeId } from '../types.js';
import type { RaftNodeLimits } from './limits.js';
import type { PeerStats } from './stats.js';
import { encodeHello, type WireCodec } from './wire.js';

/** What a {@link PeerSender} needs from its owner. */
export interface PeerSenderContext {
  readonly self: NodeId;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly codec: WireCodec;
  readonly limits: RaftNodeLimits;
  readonly stats: PeerStats;
  readonly logger: Logger;
  /**
   * How long a dial may take before it fails (and is retried after the backoff): see
   * {@link peerDialTimeoutMs}. A dial whose connect was lost waits this long whatever the network
   * does meanwhile, and the peer hears nothing from this node until it fails.
   */
  readonly dialTimeoutMs: number;
  resolve(id: NodeId): Address | undefined;
  /** The peer could not be reached: messages to it were dropped. */
  unreachable(id: NodeId): void;
}

/** Bytes a frame of messages aims at: many small messages share one frame, big ones get their own. */
const FRAME_TARGET_BYTES = 4 * 1024 * 1024;
/** First re-dial delay after a failed dial or a broken stream, in ms; doubles per failure. */
const BACKOFF_BASE_MS = 50;
/** Longest re-dial delay, in ms: a restarted peer is found again within a second. */
const BACKOFF_MAX_MS = 1000;

/**
 * The dial timeout of raft peer streams: one second plus the election timeout (etcd's
 * `PeerDialTimeout`). A transport's own default is made for any caller (10 s); a peer that cannot
 * be reached for that long after a partition heals would miss its messages for as long, while
 * raft wants it back within an election timeout or two.
 */
export function peerDialTimeoutMs(electionTimeoutMs: number): number {
  return 1_000 + electionTimeoutMs;
}

/** The bytes a message costs in a queue: its entries' data plus a fixed overhead. */
export function messageBytes(m: Message): number {
  let n = 64 + (m.context?.length ?? 0);
  for (const e of m.entries) n += 24 + e.data.length;
  return n;
}

/**
 * The outbound side of one peer: one long-lived `msg` stream, dialed on demand, carrying frames of
 * message batches in order.
 *
 * Contract: messages are sent in the order given. While the stream is being dialed or is above
 * its high-water mark, messages queue up to `maxPeerQueueMessages` / `maxPeerQueueBytes`; past
 * that, and whenever the peer cannot be reached (no address, dial failure, stream closed, backing
 * off after a failure), messages are dropped, counted, and the owner is told the peer is
 * unreachable (the core then probes instead of streaming). Raft retransmits, so a drop costs
 * latency, never safety. Never throws.
 */
export class PeerSender {
  private stream: Stream | undefined;
  private dialing = false;
  private queue: Message[] = [];
  private queuedBytes = 0;
  private failures = 0;
  private retryAt = 0;
  private closed = false;

  /**
   * @param peer - the peer's node id
   * @param ctx - the owner's transport, codec, limits and callbacks
   */
  constructor(
    readonly peer: NodeId,
    private readonly ctx: PeerSenderContext,
  ) {}

  /** Queues messages for the peer and sends what the stream accepts now. */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const { limits } = this.ctx;
    let dropped = 0;
    for (const m of messages) {
      const bytes = messageBytes(m);
      if (
        this.queue.length >= limits.maxPeerQueueMessages ||
        this.queuedBytes + bytes > limits.maxPeerQueueBytes ||
        bytes > limits.maxFrameBytes
      ) {
        dropped++;
        continue;
      }
      this.queue.push(m);
      this.queuedBytes += bytes;
    }
    if (dropped > 0) this.drop(dropped, 'queue full');
    this.pump();
  }

  /** Closes the stream and drops what is queued. Idempotent. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.stream?.close();
    this.stream = undefined;
  }

  private pump(): void {
    if (this.queue.length === 0 || this.closed) return;
    const stream = this.stream;
    if (stream === undefined || !stream.open) {
      this.stream = undefined;
      this.dial();
      return;
    }
    while (this.queue.length > 0 && stream.bufferedBytes < this.ctx.transport.limits.streamHighWaterBytes) {
      const batch = this.takeBatch();
      try {
        stream.send(this.ctx.codec.encodeBatch(batch));
        this.ctx.stats.framesSent++;
        this.ctx.stats.messagesSent += batch.length;
      } catch (err) {
        // Backpressure past the hard cap, or the stream closed under us: the peer is not keeping up.
        this.ctx.logger.debug({ peer: this.peer, err: describeError(err) }, 'raft: send to peer failed');
        this.drop(batch.length, 'send failed');
        stream.destroy();
        return;
      }
    }
  }

  private takeBatch(): Message[] {
    let bytes = 0;
    let n = 0;
    const max = this.ctx.limits.maxMessagesPerFrame;
    while (n < this.queue.length && n < max) {
      const b = messageBytes(this.queue[n]!);
      if (n > 0 && bytes + b > FRAME_TARGET_BYTES) break;
      bytes += b;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    return batch;
  }

  private dial(): void {
    if (this.dialing) return;
    const now = this.ctx.clock.now();
    const address = this.ctx.resolve(this.peer);
    if (address === undefined || now < this.retryAt) {
      this.dropAll(address === undefined ? 'no address' : 'backing off');
      return;
    }
    this.dialing = true;
    this.ctx.transport.dial(address, { timeoutMs: this.ctx.dialTimeoutMs }).then(
      (stream) => this.opened(stream),
      (err: unknown) => {
        this.dialing = false;
        this.ctx.stats.dialFailures++;
        this.ctx.logger.debug({ peer: this.peer, err: describeError(err) }, 'raft: dial failed');
        this.backoff();
        this.dropAll('dial failed');
      },
    );
  }

  private opened(stream: Stream): void {
    this.dialing = false;
    if (this.closed) {
      stream.close();
      return;
    }
    stream.onFrame(() => {
      // A msg stream is one-way; a peer that answers on it is broken.
      stream.destroy();
    });
    stream.onDrain(() => this.pump());
    stream.onClose(() => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.backoff();
      this.ctx.unreachable(this.peer);
    });
    try {
      stream.send(encodeHello({ from: this.ctx.self, to: this.peer, kind: 'msg' }));
    } catch {
      stream.destroy();
      this.dropAll('hello failed');
      return;
    }
    this.stream = stream;
    this.failures = 0;
    this.retryAt = 0;
    this.pump();
  }

  private backoff(): void {
    this.failures++;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.failures - 1, 16));
    this.retryAt = this.ctx.clock.now() + delay;
  }

  private dropAll(why: string): void {
    const n = this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    if (n > 0) this.drop(n, why);
  }

  private drop(n: number, why: string): void {
    this.ctx.stats.messagesDropped += n;
    this.ctx.logger.trace({ peer: this.peer, messages: n, why }, 'raft: messages to peer dropped');
    this.ctx.unreachable(this.peer);
  }
}
