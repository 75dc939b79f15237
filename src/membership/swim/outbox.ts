import { assert, type Rng } from '../../core/index.js';
import type { NodeId, SignedRecord } from '../../security/index.js';
import { SharedStringCache, sharedEncoding } from '../intern.js';
import type { MemberStatus } from './claims.js';
import { CompoundBuilder } from './compound.js';
import type { SwimConfig } from './config.js';
import type { SwimLimits } from './limits.js';
import { retransmitLimit } from './math.js';
import type { MemberEntry, MemberTable } from './members.js';
import { encodeSwimMessage, type SwimMessage } from './messages.js';
import { TransmitLimitedQueue } from './queue.js';
import type {
  SwimCounters,
  SwimEffects,
  SwimEvent,
  SwimEventType,
  SwimFallbackProbe,
  SwimPacket,
} from './types.js';

/** The broadcast-queue key of membership statements about `id` (a newer one invalidates older). */
export function memberBroadcastKey(id: NodeId): string {
  // One string per member id in the process: every node queues a broadcast about every member.
  return memberKeys.get(id);
}

const memberKeys = new SharedStringCache((id) => `m:${id}`);

/** The broadcast-queue key of an item enqueued by the layer above under `key`. */
export function userBroadcastKey(key: string): string {
  return `u:${key}`;
}

/** Encodes one SWIM message as a packet part. */
export function encodePart(message: SwimMessage): Uint8Array {
  return encodeSwimMessage(message);
}

/** What the outbox needs from its core: shared state and the accusation a dead member is sent. */
export interface OutboxHost {
  readonly config: SwimConfig;
  readonly limits: SwimLimits;
  readonly rng: Rng;
  readonly self: MemberEntry;
  readonly table: MemberTable;
  readonly stats: SwimCounters;
  /** The step's time. */
  now(): number;
  /** What this node holds against `e` (see `ProberHost.accusationAgainst`). */
  accusationAgainst(e: MemberEntry): Uint8Array | undefined;
}

/**
 * The dissemination half of the SWIM core: the transmit-limited broadcast queue, gossip rounds,
 * and the effects one step collects (packets, fallback probes, events) until the core hands them
 * to the driver. Owned by {@link SwimCore}; not exported from the package.
 */
export class Outbox {
  /** Broadcasts waiting to be piggybacked, each sent at most its retransmit limit. */
  readonly queue: TransmitLimitedQueue;
  private packets: SwimPacket[] = [];
  private fallbacks: SwimFallbackProbe[] = [];
  private events: SwimEvent[] = [];

  constructor(private readonly h: OutboxHost) {
    this.queue = new TransmitLimitedQueue(h.limits.maxBroadcastsQueued);
  }

  /** The effects collected since the last call, with the next deadline; the buffers start empty. */
  take(timerAtMs: number | undefined): SwimEffects {
    const fx: SwimEffects = {
      packets: this.packets,
      fallbackProbes: this.fallbacks,
      events: this.events,
      timerAtMs,
    };
    this.packets = [];
    this.fallbacks = [];
    this.events = [];
    return fx;
  }

  /** Asks the driver for a TCP fallback probe. */
  requestFallback(probe: SwimFallbackProbe): void {
    this.fallbacks.push(probe);
  }

  /** Piggybacks queued broadcasts on packets to `gossipNodes` random members. */
  gossipRound(): void {
    const h = this.h;
    if (this.queue.size === 0 && h.table.upCount === h.table.size) return;
    const deadline = h.now() - h.config.gossipToTheDeadMs;
    const targets = h.table.sample(
      h.rng,
      h.config.gossipNodes,
      (e) => e !== h.self && (e.up || (e.status === 'dead' && h.table.sinceOf(e) >= deadline)),
    );
    for (const t of targets) {
      // A member listed dead gets its death even when nothing is queued: if it is alive (a
      // healed partition), it refutes at once, and its refutation is what heals the views.
      // Sending only queued broadcasts left the heal to whether a queue still held something.
      if (t.status === 'dead') this.send(t.address, [h.accusationAgainst(t)!]);
      else if (this.queue.size > 0) this.send(t.address, []);
    }
  }

  /** Sends `priority` parts to `to`, filled up to the MTU with queued broadcasts. */
  send(to: string, priority: Uint8Array[]): void {
    const h = this.h;
    const packet = new CompoundBuilder(h.config.mtu, h.limits.maxPartsPerPacket);
    for (const part of priority) assert(packet.add(part), 'a priority part does not fit in the MTU');
    this.queue.fill(packet, retransmitLimit(h.config.retransmitMult, h.table.size));
    if (packet.parts.length === 0) return;
    this.packets.push({ to, parts: packet.parts });
    h.stats.packetsSent++;
  }

  /** Sends one part alone, without piggybacked broadcasts. */
  sendOnly(to: string, part: Uint8Array): void {
    this.packets.push({ to, parts: [part] });
    this.h.stats.packetsSent++;
  }

  /** Queues a member's own alive or leave record for gossip. */
  enqueueRecord(subject: NodeId, type: 'Alive' | 'Leave', record: SignedRecord): void {
    // Records are shared between the nodes of a process (../intern.ts), so are their encodings.
    this.enqueuePart(
      subject,
      sharedEncoding(type, record, () => encodePart({ type, record })),
    );
  }

  /** Queues a statement about `subject`, replacing an older one still queued. */
  enqueuePart(subject: NodeId, part: Uint8Array): void {
    this.h.stats.broadcastsEvicted += this.queue.enqueue(memberBroadcastKey(subject), part);
  }

  /** Reports a member's change to the driver (the view is taken now). */
  emit(
    type: SwimEventType,
    e: MemberEntry,
    previousStatus: MemberStatus | undefined,
    restarted: boolean,
  ): void {
    const view = this.h.table.view(e);
    this.events.push(
      previousStatus === undefined
        ? { type, member: view, restarted }
        : { type, member: view, previousStatus, restarted },
    );
  }
}
