import type { Clock, Logger, Metrics, Rng } from '../../core/index.js';
import type { NodeIdentity, SignatureScheme } from '../../security/index.js';
import type { Address, Transport } from '../../transport/types.js';
import type { MembershipProtocolConfig } from '../config.js';
import type { DiscoveryProvider } from '../discovery/index.js';
import type { GenerationStore } from '../generation.js';
import type { PexConfig } from '../pex/index.js';
import type { StateValue } from '../types.js';

/** Options of {@link Membership.create}. */
export interface MembershipOptions {
  /** This node's identity: its NodeId and the key that signs its records. */
  identity: NodeIdentity;
  /**
   * Where membership speaks: a transport (or a mux channel of one) for this node alone. Membership
   * takes over its packet and stream handlers; {@link Membership.shutdown} does not close it.
   */
  transport: Transport;
  /** A human-readable name carried in the alive record; default the short node id. */
  name?: string;
  /** Protocol settings; default {@link lanConfig}(). Must match across the cluster. */
  protocol?: MembershipProtocolConfig;
  /** Clock; default the system clock (the simulator passes its virtual clock). */
  clock?: Clock;
  /** Random stream; default seeded from the OS (the simulator passes a seeded one). */
  rng?: Rng;
  /** Logger; default silent. */
  logger?: Logger;
  /** Metrics registry for `cairn_membership_*`; default none. */
  metrics?: Metrics;
  /**
   * This run's generation; default `floor(clock.now())`. With a `generationStore`, the generation
   * is at least the last one stored plus one (and this value, or the clock, otherwise).
   */
  generation?: number;
  /**
   * Where the last generation is kept across restarts (the agent keeps it in its data directory,
   * the simulator on the node's disk). With it, this run's generation is `max(clock.now(),
   * last + 1)`, saved durably before the node announces anything, so a clock stepped back across
   * a restart cannot make the node's peers ignore it. Without it, the clock alone decides.
   */
  generationStore?: GenerationStore;
  /** Signature scheme; default Ed25519. `simulatedScheme` only in large simulations. */
  scheme?: SignatureScheme;
  /** Seed addresses for `join()` without arguments and for re-seeding. */
  seeds?: readonly Address[];
  /** Discovery providers asked for seeds at `join()` and whenever no live peer is known. */
  discovery?: readonly DiscoveryProvider[];
  /** Key/value state set before the node joins (the Scuttlebutt seed's wish). */
  initialState?: Readonly<Record<string, StateValue>>;
  /** Cluster name: Scuttlebutt messages from another cluster are refused. */
  cluster?: string;
  /**
   * Runs gossip peer sampling (PeX) beside SWIM, as a fallback seed source: when no live member is
   * known, re-seeding also tries peers from the PeX view (and re-exchanges with the seeds, which is
   * what reconnects two PeX halves after a long partition). `true` for `lanPexConfig()`.
   */
  pex?: boolean | PexConfig;
}

/** This node's own key/value state. */
export interface LocalState {
  /** Sets `key` (versioned, signed, gossiped at once). */
  set(key: string, value: StateValue): void;
  /** Deletes `key` (a tombstone, gossiped, collected after the grace period). */
  delete(key: string): void;
  /** The current value of `key`. */
  get(key: string): StateValue | undefined;
}

/** Counters of one membership node; all only grow. */
export interface MembershipStats {
  packetsReceived: number;
  packetsSent: number;
  malformed: number;
  rejectedRecords: number;
  syncsStarted: number;
  syncsCompleted: number;
  syncsFailed: number;
  /** Push-pulls started because a peer's state named a node SWIM did not know. */
  triggeredSyncs: number;
  /** Follow-up push-pulls after a sync that brought members this node did not know. */
  catchUpSyncs: number;
  /** Push-pull streams closed for a frame out of phase or over its phase's counts (`sync/session.ts`). */
  syncProtocolErrors: number;
  /** Signature checks push-pull refused because the peer's verification budget was spent. */
  syncOverBudget: number;
  reseeds: number;
  /** Push-pulls with a member declared dead (`reconnectIntervalMs`). */
  reconnects: number;
  userMessages: number;
  /**
   * Direct messages refused as seen before (a duplicate or replay), from an older run of their
   * sender, older than the sender's replay window, or addressed to another node.
   */
  directRefused: number;
  phiSuspicions: number;
}
