import { withLimits } from '../../core/index.js';
import { MAX_ADDRESS_LENGTH } from '../../transport/address.js';
import { NODE_NAME_MAX_LENGTH } from '../node-name.js';

/** The limits of the SWIM core; see {@link DEFAULT_LIMITS} for each one's reason. */
export type SwimLimits = {
  /** Entries in the member table (self, alive, suspect, dead and left until reaped). */
  readonly maxMembers: number;
  /** Items waiting in the transmit-limited broadcast queue. */
  readonly maxBroadcastsQueued: number;
  /** Parts in one compound packet. */
  readonly maxPartsPerPacket: number;
  /** Characters of a member name. */
  readonly maxNameLength: number;
  /** Characters of a member address. */
  readonly maxAddressLength: number;
  /** Bytes of the payload of one SWIM signed record (alive, leave, suspect, dead). */
  readonly maxRecordPayloadBytes: number;
  /** Bytes of one encoded part (message) inside a compound packet. */
  readonly maxPartBytes: number;
  /** PingReq relays (pings on behalf of another prober) in flight at once. */
  readonly maxPendingRelays: number;
  /** Alive records accepted by one `join` call. */
  readonly maxJoinRecords: number;
  /** Members a leaving node sends its leave to directly, besides gossiping it. */
  readonly maxLeaveNotices: number;
  /** Smallest MTU a config may set, in bytes. */
  readonly minMtu: number;
  /** Largest MTU a config may set, in bytes. */
  readonly maxMtu: number;
};

/**
 * Limits of the SWIM core. Each bounds the memory or the bytes that peers (or a busy cluster) can
 * make one node spend. Override per node with {@link swimLimits}.
 *
 * Over a limit the core rejects explicitly and counts it (`SwimCounters`): a member over
 * `maxMembers` is not added, a PingReq over `maxPendingRelays` is not relayed, a broadcast over
 * `maxBroadcastsQueued` evicts the queued item closest to its retransmit limit (counted in
 * `broadcastsEvicted`; anti-entropy in `state/` repairs what gossip missed).
 */
export const DEFAULT_LIMITS: SwimLimits = Object.freeze({
  /** Table entries: the 10,000-node requirement with room for churn, about 300 bytes each. */
  maxMembers: 16_384,
  /**
   * Queued broadcasts. A node hands out about 90 parts a second (3 packets per 200 ms gossip
   * interval, about 6 parts each), so an item behind 1,024 others would wait minutes, by when
   * push-pull has long carried it; holding one item per member during a mass join (memberlist's
   * queue is unbounded) only costs memory and time per fill. Serf bounds its queues at 4,096.
   */
  maxBroadcastsQueued: 1024,
  /** Parts per compound packet: memberlist's bound (a u8 count); 1,400 bytes hold far fewer. */
  maxPartsPerPacket: 255,
  /** Member name: a label for humans, the agent config's bound (`node-name.ts`). */
  maxNameLength: NODE_NAME_MAX_LENGTH,
  /** Member address: the transport's own bound on `host:port` text. */
  maxAddressLength: MAX_ADDRESS_LENGTH,
  /** SWIM record payload: a name and an address plus a few integers fit well within 1 KiB. */
  maxRecordPayloadBytes: 1024,
  /** One part of a compound packet: no part can exceed the largest MTU. */
  maxPartBytes: 65_507,
  /** PingReq relays in flight: a few per probe interval normally; more is a storm or hostile. */
  maxPendingRelays: 1024,
  /** Records per join: one per member of the largest table. */
  maxJoinRecords: 16_384,
  /**
   * Direct leave notices: every member of a cluster up to 64 (one small packet each, once); a
   * larger one also hears it from them and from gossip, and a member that missed it gets it back
   * when it accuses the leaver.
   */
  maxLeaveNotices: 64,
  /** Smallest MTU: an IPv4 host must accept 576-byte datagrams; one alive record must fit. */
  minMtu: 512,
  /** Largest MTU: the largest UDP payload over IPv4. */
  maxMtu: 65_507,
});

/** {@link DEFAULT_LIMITS} with `overrides`; unknown names and non-positive values throw `INVALID_CONFIG`. */
export function swimLimits(overrides: Partial<SwimLimits> = {}): SwimLimits {
  return withLimits<SwimLimits>(DEFAULT_LIMITS, overrides);
}
