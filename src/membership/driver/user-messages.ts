import { CairnError, describeError, encode } from '../../core/index.js';
import { type NodeId, type SignedRecord, signRecord, verifyRecord } from '../../security/index.js';
import type { Stream } from '../../transport/types.js';
import { ReplayWindows } from '../replay-window.js';
import type { UserMessage } from '../types.js';
import {
  decodeDirect,
  decodeDirectPayload,
  decodePiggyback,
  encodeDirectPayload,
  encodePiggyback,
  WIRE_LIMITS,
} from '../wire.js';
import { assertRunning, type Driver } from './context.js';

/** Gossip state limit: user broadcast ids remembered to suppress duplicates. */
const MAX_SEEN_BROADCASTS = 4096;

/**
 * User messages: direct messages (signed for one recipient, delivered at most once) and gossiped
 * broadcasts, and the items piggybacked on SWIM packets (broadcasts and eager key/value records).
 */
export class UserMessages {
  private readonly seenBroadcasts = new Set<string>();
  private readonly handlers = new Set<(message: UserMessage) => void>();
  private broadcastSeq = 0;
  /** The sequence of the last direct message sent by this run (each is signed with the next). */
  private directSeq = 0;
  /** What each sender's direct messages already delivered: each is delivered at most once. */
  private readonly directWindows = new ReplayWindows();

  constructor(private readonly d: Driver) {}

  /** Adds a handler of every user message received; returns the function that removes it. */
  onMessage(handler: (message: UserMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** See `Membership.send`. */
  send(node: NodeId, data: Uint8Array): void {
    const d = this.d;
    assertRunning(d);
    const member = d.swim.member(node);
    if (member === undefined) throw new CairnError('MEMBERSHIP_UNKNOWN_NODE', `no member ${node} is known`);
    if (data.length > WIRE_LIMITS.maxUserMessageBytes) {
      throw new CairnError('LIMIT_EXCEEDED', `a user message of ${data.length} bytes is over the limit`);
    }
    const payload = encodeDirectPayload({ kind: 'direct', to: node, generation: d.generation, data });
    const bytes = encode(signRecord(d.identity, ++this.directSeq, payload, d.scheme));
    if (bytes.length <= d.channels.user.mtu) {
      d.channels.user.sendPacket(member.address, bytes);
      return;
    }
    void d.channels.user
      .dial(member.address, { timeoutMs: d.protocol.syncTimeoutMs })
      .then((stream) => {
        stream.send(bytes);
        stream.close();
      })
      .catch((err: unknown) => d.logger.debug({ err: describeError(err), node }, 'direct message lost'));
  }

  /** See `Membership.broadcast`. */
  broadcast(data: Uint8Array): void {
    const d = this.d;
    assertRunning(d);
    const id = `${d.id}:${this.broadcastSeq++}`;
    const item = encodePiggyback({ k: 'ub', id, r: signRecord(d.identity, 0, data, d.scheme) });
    if (!this.fitsOnePacket(item)) {
      throw new CairnError('LIMIT_EXCEEDED', `a broadcast of ${data.length} bytes does not fit one packet`);
    }
    this.remember(id);
    d.swimDriver.input({ type: 'broadcast', key: `ub:${id}`, data: item, eager: true });
  }

  /** One item piggybacked on a SWIM packet: a key/value record or a user broadcast. */
  onPiggyback(data: Uint8Array): void {
    const d = this.d;
    const item = decodePiggyback(data);
    if (item === undefined) {
      d.stats.counters.malformed++;
      return;
    }
    if (item.k === 'kv') {
      const before = d.state.stats.applied;
      d.antiEntropy.onStateEvents(d.state.applyRecord(item.r, d.clock.now()));
      if (d.state.stats.applied === before) d.stats.countRejections();
      return;
    }
    if (this.seenBroadcasts.has(item.id)) return;
    if (!verifyRecord(item.r, d.scheme) || !item.id.startsWith(`${item.r.node}:`)) {
      d.stats.reject();
      return;
    }
    this.remember(item.id);
    // Re-gossip once (not eagerly) so a broadcast reaches nodes its origin did not pick. One that
    // could not fit this node's packets (a peer with a larger MTU) is delivered, not relayed: the
    // core refuses a part over its MTU by throwing, and peer input never reaches a throw.
    if (this.fitsOnePacket(data)) d.swimDriver.input({ type: 'broadcast', key: `ub:${item.id}`, data });
    this.deliver({ from: item.r.node, data: item.r.payload, kind: 'broadcast' });
  }

  /** True when a piggybacked item fits one SWIM packet of this node with room for a header. */
  private fitsOnePacket(item: Uint8Array): boolean {
    return item.length <= Math.min(this.d.swim.config.mtu, this.d.channels.swim.mtu) - 64;
  }

  /** One direct message, by packet or as the first frame of a stream. */
  onDirect(data: Uint8Array): void {
    const d = this.d;
    let record: SignedRecord;
    try {
      record = decodeDirect(data);
    } catch {
      d.stats.counters.malformed++;
      return;
    }
    const payload = decodeDirectPayload(record.payload);
    if (payload === undefined || !verifyRecord(record, d.scheme)) {
      d.stats.reject();
      return;
    }
    // The signature binds recipient, run and sequence: deliver each message once, here only.
    const known = d.swim.member(record.node)?.generation;
    if (
      payload.to !== d.id ||
      this.directWindows.accept(record.node, payload.generation, record.version, known) !== 'fresh'
    ) {
      d.stats.counters.directRefused++;
      return;
    }
    this.deliver({ from: record.node, data: payload.data, kind: 'direct' });
  }

  /** A direct message too large for a packet: its one frame, then the stream is closed. */
  onDirectStream(stream: Stream): void {
    stream.onFrame((frame) => {
      this.onDirect(frame);
      stream.close();
    });
  }

  private deliver(received: UserMessage): void {
    this.d.stats.counters.userMessages++;
    if (this.handlers.size === 0) return;
    // The payload is a view into the packet or frame it came in, which is the transport's again
    // once this handler returns (see PacketHandler); the application gets bytes of its own.
    const message: UserMessage = { ...received, data: new Uint8Array(received.data) };
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (err) {
        this.d.logger.error({ err: describeError(err) }, 'user message handler threw');
      }
    }
  }

  private remember(id: string): void {
    this.seenBroadcasts.add(id);
    if (this.seenBroadcasts.size > MAX_SEEN_BROADCASTS) {
      const oldest = this.seenBroadcasts.values().next().value;
      if (oldest !== undefined) this.seenBroadcasts.delete(oldest);
    }
  }
}
