import type { NodeId, SignedRecord } from '../../security/index.js';
import type { Address } from '../../transport/types.js';
import {
  decodeStateMessage,
  decodeStatePayload,
  encodeStateMessage,
  type StateEvent,
  type StateMessage,
} from '../state/index.js';
import { encodePiggyback } from '../wire.js';
import type { Driver } from './context.js';

/**
 * Drives Scuttlebutt: anti-entropy rounds, state packets from the wire, state events turned into
 * user events and eager broadcasts, the phi detector the heartbeats feed, and the push-pulls
 * started early because a peer knows members this node does not.
 */
export class AntiEntropyDriver {
  /** When the last push-pull triggered by an unknown node in a digest started. */
  private lastTriggeredSyncMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly d: Driver) {}

  /** Carries out state events: records to push, updates to publish, heartbeats for phi. */
  onStateEvents(events: readonly StateEvent[]): void {
    const d = this.d;
    for (const event of events) {
      switch (event.type) {
        case 'localRecord':
          this.pushRecord(event.record);
          break;
        case 'update':
          if (event.record !== undefined && event.node !== d.id) this.pushRecord(event.record);
          d.hub.publish({
            type: 'update',
            node: event.node,
            key: event.key,
            value: event.value,
            version: event.version,
          });
          break;
        case 'heartbeat':
          if (event.node !== d.id) d.phi?.heartbeat(event.node, d.clock.now());
          break;
        case 'nodeReset':
          break;
      }
    }
  }

  /** Pushes a key/value record eagerly through SWIM's piggyback; heartbeats travel by anti-entropy. */
  private pushRecord(record: SignedRecord): void {
    const payload = decodeStatePayload(record.payload);
    if (payload === undefined || payload.type !== 'kv') return;
    this.d.swimDriver.input({
      type: 'broadcast',
      key: `kv:${record.node}:${payload.key}`,
      data: encodePiggyback({ k: 'kv', r: record }),
      eager: true,
    });
  }

  /** One packet on the state channel: decoded, stepped, answered, its events carried out. */
  onStatePacket(from: Address, data: Uint8Array): void {
    const d = this.d;
    d.stats.counters.packetsReceived++;
    const message = decodeStateMessage(data);
    if (message === undefined) {
      d.stats.counters.malformed++;
      return;
    }
    const step = d.state.handleMessage(message, d.clock.now(), d.stateMtu);
    d.stats.countRejections();
    if (step.reply !== undefined) this.sendState(from, step.reply);
    this.onStateEvents(step.events);
    this.syncIfPeerKnowsMore(from, message);
  }

  /**
   * A peer's digest or delta names a node SWIM has never heard of: an alive record ran out of
   * retransmits before reaching this node (many nodes joining at once does that). Rather than wait
   * for the periodic push-pull, sync with that peer now, at most once per two anti-entropy
   * intervals, so the join tail is seconds, not a push-pull interval.
   */
  private syncIfPeerKnowsMore(from: Address, message: StateMessage): void {
    const d = this.d;
    const now = d.clock.now();
    if (now - this.lastTriggeredSyncMs < 2 * d.protocol.antiEntropyIntervalMs) return;
    const unknown = (node: NodeId) => node !== d.id && !d.swim.knows(node);
    const named =
      (message.type !== 'Ack' && message.digest.entries.some((e) => unknown(e.node))) ||
      (message.type !== 'Syn' && message.delta.some((entry) => unknown(entry.node)));
    if (named) this.triggerSync(from);
  }

  /**
   * A direct Ack says the acker lists `members` members up, more than this node does: this node may
   * have missed joins (alive records run out of retransmits in a mass join, and Scuttlebutt digests
   * name only nodes with state). A wide gap (at least max(2, log2 n)) is a mass join: sync with the
   * acker at once. A narrow one looks the same as a join or two that gossip is still spreading, so
   * the node checks again two anti-entropy intervals later and syncs only if it still lists fewer
   * (one check at a time). Syncing at once on any gap would make a single join start a sync on
   * about half of a large cluster. Syncs share the rate limit of {@link syncIfPeerKnowsMore}.
   */
  syncIfAckerKnowsMore(from: Address, members: number): void {
    const d = this.d;
    const mine = d.swim.upMembers;
    if (members <= mine) return;
    if (members - mine >= Math.max(2, Math.ceil(Math.log2(mine + 1)))) {
      this.triggerSync(from);
      return;
    }
    if (d.timers.has('members-gap')) return;
    d.timers.set(
      'members-gap',
      d.clock.setTimer(2 * d.protocol.antiEntropyIntervalMs, () => {
        d.timers.delete('members-gap');
        if (!d.stopped && d.swim.upMembers < members) this.triggerSync(from);
      }),
    );
  }

  /** Starts a push-pull with `peer` unless one was triggered in the last two anti-entropy intervals. */
  private triggerSync(peer: Address): void {
    const d = this.d;
    const now = d.clock.now();
    if (now - this.lastTriggeredSyncMs < 2 * d.protocol.antiEntropyIntervalMs) return;
    this.lastTriggeredSyncMs = now;
    d.stats.counters.triggeredSyncs++;
    void d.pushPull.pushPull(peer);
  }

  private sendState(to: Address, message: StateMessage): void {
    const d = this.d;
    const bytes = encodeStateMessage(message);
    if (bytes.length > d.channels.state.mtu) {
      d.logger.warn({ bytes: bytes.length, mtu: d.channels.state.mtu }, 'state message over the mtu');
      return;
    }
    d.stats.counters.packetsSent++;
    d.channels.state.sendPacket(to, bytes);
  }

  /** One anti-entropy round: a `Syn` to a random live peer. */
  antiEntropy(): void {
    const peer = this.d.swim.randomAlivePeer(this.d.rng);
    if (peer !== undefined) this.sendState(peer.address, this.d.state.createSyn(this.d.stateMtu));
  }

  /** With the phi detector: suspects every alive member whose heartbeats stopped. */
  phiCheck(): void {
    const d = this.d;
    const phi = d.phi;
    if (phi === undefined) return;
    const now = d.clock.now();
    for (const m of d.swim.members()) {
      if (m.id === d.id || m.status !== 'alive') continue;
      if (!phi.isMonitoring(m.id)) continue;
      if (!phi.isAvailable(m.id, now)) {
        d.stats.counters.phiSuspicions++;
        d.swimDriver.input({ type: 'suspect', id: m.id });
      }
    }
  }
}
