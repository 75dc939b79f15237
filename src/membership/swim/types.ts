import type { NodeId, SignedRecord } from '../../security/index.js';
import type { MemberStatus } from './claims.js';
import type { ProbeMessage, VerifiedAlive, VerifiedBroadcast } from './messages.js';

/** A member as the core knows it (a snapshot: later changes do not alter it). */
export interface SwimMember {
  readonly id: NodeId;
  readonly name: string;
  readonly address: string;
  readonly generation: number;
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** When the status last changed, on the core's clock (ms). */
  readonly statusSinceMs: number;
  /** The member's latest verified alive record, as received: relayed as is (push-pull, gossip). */
  readonly aliveRecord: SignedRecord;
}

/** A member as {@link SwimCore.eachMember} shows it: live, valid during the visit only. */
export type SwimMemberView = Pick<
  SwimMember,
  'id' | 'generation' | 'incarnation' | 'status' | 'aliveRecord'
> & {
  /** `memberKey(id)`. */
  readonly key: number;
};

/**
 * An input to {@link SwimCore.step}. Every input carries no time: `nowMs` is the step's second
 * argument. Messages must be decoded and validated, and broadcasts verified (`openBroadcast`), by
 * the driver before they are fed in: the core trusts signatures but checks ordering itself.
 */
export type SwimInput =
  /** Begin: announce the local alive record and arm the probe and gossip timers. Once. */
  | { readonly type: 'start' }
  /** The wake-up the core asked for (`timerAtMs`) has come; early or late firings are harmless. */
  | { readonly type: 'tick' }
  /** A probe message or a verified broadcast arrived in a packet from `from` (its source address). */
  | { readonly type: 'message'; readonly from: string; readonly message: ProbeMessage | VerifiedBroadcast }
  /**
   * Another detector (phi accrual) suspects member `id`: the local node accuses it, signed, at its
   * current generation and incarnation, exactly as after a failed probe. Ignored (counted in
   * `unknownSubjects`) for an unknown member, the local node or a member not listed alive.
   */
  | { readonly type: 'suspect'; readonly id: NodeId }
  /** The TCP fallback ping for probe `seq` got its ack. */
  | { readonly type: 'fallback-ack'; readonly seq: number }
  /** The TCP fallback ping for probe `seq` failed or timed out. */
  | { readonly type: 'fallback-failed'; readonly seq: number }
  /** Alive records learned by a push-pull with seeds (verified by the driver). */
  | { readonly type: 'join'; readonly members: readonly VerifiedAlive[] }
  /** Graceful leave: broadcast a signed leave; stop probing. */
  | { readonly type: 'leave' }
  /** The local node's address or name changed: bump the incarnation and broadcast. */
  | { readonly type: 'update-local'; readonly address?: string; readonly name?: string }
  /** Piggyback opaque bytes of the layer above under an invalidation key; `eager` gossips now. */
  | { readonly type: 'broadcast'; readonly key: string; readonly data: Uint8Array; readonly eager?: boolean }
  /** Run one gossip round now (the eager push of the brick design), without moving the tick. */
  | { readonly type: 'gossip-now' };

/**
 * One compound packet to send: `encodeCompound(parts)` is at most `config.mtu` bytes. The first
 * part is the packet's reason (Ping, PingReq, Ack, Nack) unless it is a gossip packet; the rest
 * are piggybacked broadcasts.
 */
export interface SwimPacket {
  readonly to: string;
  readonly parts: readonly Uint8Array[];
}

/**
 * A TCP fallback probe: the driver pings `target` at `address` over a stream and reports
 * `fallback-ack` or `fallback-failed` with `seq`, giving up at `deadlineMs` (the end of the probe
 * on the core's clock). A report after the deadline is ignored.
 */
export interface SwimFallbackProbe {
  readonly seq: number;
  readonly target: NodeId;
  readonly address: string;
  readonly deadlineMs: number;
}

/** What happened to a member, for the driver's events. */
export type SwimEventType = 'join' | 'alive' | 'suspect' | 'dead' | 'leave' | 'update' | 'reap';

/**
 * A member changed:
 * - `join`: a member is new, or came back from dead/left (a newer incarnation or generation);
 * - `alive`: a suspect member refuted the suspicion;
 * - `suspect`, `dead`, `leave`: it was suspected, declared dead, or left gracefully;
 * - `update`: an alive member's address, name or generation changed (a restart with a newer
 *   generation while still listed alive is an `update` with `restarted: true`; the layer above
 *   drops that node's old state), also for the local node after `update-local`;
 * - `reap`: a dead or left member was forgotten after `reapAfterMs`.
 */
export interface SwimEvent {
  readonly type: SwimEventType;
  readonly member: SwimMember;
  /** The status before this change (absent for a new member). */
  readonly previousStatus?: MemberStatus;
  /** True when the change came with a newer generation (the node restarted). */
  readonly restarted: boolean;
}

/**
 * The effects of one step. The driver carries them out in this order:
 * 1. **send** every packet in `packets`, in order (each `encodeCompound(parts)`, sealed if a
 *    keyring is used, one datagram each);
 * 2. **start** every TCP fallback probe in `fallbackProbes` (asynchronously; report back later);
 * 3. **publish** every event in `events`, in order;
 * 4. **re-arm** its single timer for `timerAtMs` (absolute, on the clock that supplies `nowMs`),
 *    replacing any earlier one; `timerAtMs` may be at or before now, then fire at once; when
 *    `undefined`, no timer is needed.
 *
 * Sending before publishing means an event handler that calls back into the core cannot reorder
 * this step's packets after its own. Each call returns complete effects of its own: `timerAtMs` is
 * always the core's whole answer, never a delta, so the latest effects win. Nothing needs to be
 * persisted: the generation is chosen (and persisted) by the driver before the core exists.
 */
export interface SwimEffects {
  readonly packets: readonly SwimPacket[];
  readonly fallbackProbes: readonly SwimFallbackProbe[];
  readonly events: readonly SwimEvent[];
  readonly timerAtMs: number | undefined;
}

/** Counters of a core; all only grow. */
export interface SwimCounters {
  /** Probes started. */
  probes: number;
  /** Probes that ended without any ack (direct, indirect or TCP): the target was suspected. */
  probesFailed: number;
  /** PingReq messages sent. */
  indirectPings: number;
  /** TCP fallback probes asked for. */
  fallbackProbes: number;
  /** Probes saved only by the TCP fallback (UDP to the target is broken). */
  fallbackOnlyAcks: number;
  /** Nacks received for our probes. */
  nacksReceived: number;
  /** Nacks expected but not received (each raised the local health multiplier). */
  nacksMissed: number;
  /** Times this node refuted a suspicion or death of itself. */
  refutations: number;
  /** Times this node queued its current alive record again for an accuser that missed it. */
  reannouncements: number;
  /** Alive records sent straight back to the sender of a stale accusation. */
  corrections: number;
  /**
   * Dead or Leave records sent to a node that missed them: the sender of an older accusation of a
   * member listed dead or left, or of a PingReq for one.
   */
  downNotices: number;
  /** Suspicions this node raised from its own failed probes. */
  suspicionsRaised: number;
  /** Deaths this node declared when a suspicion timed out. */
  deathsDeclared: number;
  /** Claims ignored because they were older than what is known. */
  staleClaims: number;
  /** Accusations or leaves about members not in the table (or a generation not yet seen). */
  unknownSubjects: number;
  /**
   * Accusations of another member signed by a node this one does not list (or lists as left):
   * dropped, so a key that never joined cannot make members flap.
   */
  strangerAccusations: number;
  /** Pings addressed to another node id. */
  misdirectedPings: number;
  /** Acks and nacks matching no probe or relay in flight (late or bogus). */
  unmatchedAcks: number;
  /** PingReqs not relayed because `maxPendingRelays` were in flight. */
  relaysRejected: number;
  /** Alive records not added because the table held `maxMembers`. */
  membersRejected: number;
  /** Broadcasts evicted from a full queue before reaching their retransmit limit. */
  broadcastsEvicted: number;
  /** Packets produced. */
  packetsSent: number;
}
