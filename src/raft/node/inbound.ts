import { createHash, type Hash } from 'node:crypto';
import { bytesEqual, type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import type { Address, Stream } from '../../transport/types.js';
import type { Message, NodeId, SnapshotMeta } from '../types.js';
import type { RaftNodeLimits } from './limits.js';
import { isStateMachineMarker } from './snapshot-marker.js';
import type { PeerStats } from './stats.js';
import { decodeHello, encodeSnapshotAck, type Hello, type WireCodec } from './wire.js';

/** What the inbound side needs from the driver. */
export interface InboundContext {
  readonly self: NodeId;
  readonly clock: Clock;
  readonly codec: WireCodec;
  readonly limits: RaftNodeLimits;
  readonly stats: PeerStats;
  readonly logger: Logger;
  resolve(id: NodeId): Address | undefined;
  /** Steps a message that arrived from a peer (already checked: from the stream's peer, to us). */
  deliver(m: Message): void;
}

/**
 * The inbound side of the driver's transport: accepts streams, checks their hello, and turns
 * frames into messages.
 *
 * Contract: the first frame of a stream must be a hello addressed to this node from a peer whose
 * resolved address is the stream's `remoteAddress` (a peer cannot open a stream in another
 * member's name); every message on it must be `from` that peer. A stream that breaks any rule, or
 * sends a frame that does not decode, is destroyed and counted in `badFrames` (or
 * `streamsRefused` before the hello was accepted); nothing thrown reaches the transport. At most
 * `maxInboundStreams` streams and `maxInboundSnapshots` snapshot transfers are accepted at once,
 * a stream must say hello within `helloTimeoutMs`, and a peer has one message stream (a new one
 * replaces the old).
 */
export class InboundStreams {
  private readonly streams = new Set<Stream>();
  private readonly byPeer = new Map<NodeId, Stream>();
  private snapshots = 0;
  private closed = false;

  /** @param ctx - the driver's codec, limits, counters and delivery callback */
  constructor(private readonly ctx: InboundContext) {}

  /** The transport's stream handler. */
  accept(stream: Stream): void {
    if (this.closed || this.streams.size >= this.ctx.limits.maxInboundStreams) {
      this.ctx.stats.streamsRefused++;
      stream.destroy();
      return;
    }
    this.streams.add(stream);
    let receiver: SnapshotReceiver | undefined;
    let peer: NodeId | undefined;
    const helloTimer = this.ctx.clock.setTimer(this.ctx.limits.helloTimeoutMs, () => {
      this.ctx.stats.streamsRefused++;
      stream.destroy();
    });
    stream.onClose(() => {
      this.ctx.clock.cancel(helloTimer);
      this.streams.delete(stream);
      if (peer !== undefined && this.byPeer.get(peer) === stream) this.byPeer.delete(peer);
      receiver?.finish();
    });
    stream.onFrame((frame) => {
      this.ctx.clock.cancel(helloTimer);
      const hello = this.checkHello(stream, frame);
      if (hello === undefined) {
        this.ctx.stats.streamsRefused++;
        stream.destroy();
      } else if (hello.kind === 'msg') {
        // One message stream per peer: a new one means the peer redialed, the old one is dead.
        peer = hello.from;
        this.byPeer.get(peer)?.destroy();
        this.byPeer.set(peer, stream);
        stream.onFrame((f) => this.onMessages(stream, hello.from, f));
      } else if (this.snapshots >= this.ctx.limits.maxInboundSnapshots) {
        this.ctx.stats.streamsRefused++;
        stream.destroy();
      } else {
        this.snapshots++;
        receiver = new SnapshotReceiver(this.ctx, stream, hello.from, () => this.snapshots--);
      }
    });
  }

  /** Closes every accepted stream and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const s of this.streams) s.destroy();
    this.streams.clear();
    this.byPeer.clear();
  }

  private checkHello(stream: Stream, frame: Uint8Array): Hello | undefined {
    let hello: Hello;
    try {
      hello = decodeHello(frame);
    } catch {
      return undefined;
    }
    if (hello.to !== this.ctx.self || hello.from === this.ctx.self) return undefined;
    const address = this.ctx.resolve(hello.from);
    if (address === undefined || address !== stream.remoteAddress) {
      this.ctx.logger.debug(
        { peer: hello.from, claimed: stream.remoteAddress, resolved: address },
        'raft: refused a stream whose address is not the peer it names',
      );
      return undefined;
    }
    return hello;
  }

  private onMessages(stream: Stream, peer: NodeId, frame: Uint8Array): void {
    let messages: Message[];
    try {
      messages = this.ctx.codec.decodeBatch(frame, peer, this.ctx.self);
    } catch (err) {
      this.ctx.stats.badFrames++;
      this.ctx.logger.debug({ peer, err: describeError(err) }, 'raft: bad frame from peer');
      stream.destroy();
      return;
    }
    this.ctx.stats.messagesReceived += messages.length;
    for (const m of messages) this.ctx.deliver(m);
  }
}

/**
 * Receives one snapshot on a `snap` stream: header, then chunks up to the announced size, then
 * checks the SHA-256, steps the `snap` message with the data and answers with an ack. The data is
 * gathered as it arrives (never allocated from the header's claim), and the transfer is abandoned
 * after `snapshotTimeoutMs`.
 */
class SnapshotReceiver {
  private header: { message: Message; meta: SnapshotMeta; size: number; sum: Uint8Array } | undefined;
  private readonly chunks: Uint8Array[] = [];
  private received = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly timer: TimerHandle;
  private done = false;

  constructor(
    private readonly ctx: InboundContext,
    private readonly stream: Stream,
    private readonly peer: NodeId,
    private readonly release: () => void,
  ) {
    this.timer = ctx.clock.setTimer(ctx.limits.snapshotTimeoutMs, () => this.fail('timed out'));
    stream.onFrame((frame) => this.onFrame(frame));
  }

  private onFrame(frame: Uint8Array): void {
    if (this.done) return;
    try {
      if (this.header === undefined) {
        this.header = this.ctx.codec.decodeSnapshotHeader(frame, this.peer, this.ctx.self);
      } else {
        const chunk = this.ctx.codec.decodeChunk(frame);
        if (this.received + chunk.length > this.header.size) throw new Error('more data than announced');
        this.chunks.push(new Uint8Array(chunk));
        this.hash.update(chunk);
        this.received += chunk.length;
      }
    } catch (err) {
      this.fail(describeError(err));
      return;
    }
    if (this.received === this.header.size) this.complete(this.header);
  }

  private complete(header: NonNullable<SnapshotReceiver['header']>): void {
    const sum = new Uint8Array(this.hash.digest());
    if (!bytesEqual(sum, header.sum)) {
      this.fail('checksum mismatch');
      return;
    }
    const data = new Uint8Array(this.received);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.chunks.length = 0;
    if (isStateMachineMarker(data)) {
      // Metadata only: it stands for state this node does not have (a sender never sends one).
      this.fail('a metadata-only snapshot');
      return;
    }
    this.ctx.stats.snapshotsReceived++;
    this.ctx.deliver({ ...header.message, snapshot: { meta: header.meta, data } });
    try {
      this.stream.send(encodeSnapshotAck(true));
    } catch {
      // The sender is gone; it reports the failure itself.
    }
    this.stream.close();
    this.finish();
  }

  private fail(why: string): void {
    if (this.done) return;
    this.ctx.stats.badFrames++;
    this.ctx.stats.snapshotsFailed++;
    this.ctx.logger.debug({ peer: this.peer, why }, 'raft: snapshot transfer from peer refused');
    this.stream.destroy();
    this.finish();
  }

  /** Releases the transfer's slot and buffers; run once, on completion, failure or close. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.ctx.clock.cancel(this.timer);
    this.chunks.length = 0;
    this.release();
  }
}
