import type { NodeId, SignedRecord } from '../../security/index.js';
import type { RejectReason, StateValue } from './records.js';

/**
 * What the state core tells its driver. Every call that changes state returns the events it
 * caused, in order; the driver publishes them (and forwards records) after the call returns.
 */
export type StateEvent =
  /**
   * A key changed: `value` undefined = deleted (a tombstone applied, or the key dropped by a
   * reset). Emitted for local writes too. `record` is the signed record that made the change
   * (absent for drops), for the driver to forward on the eager push path.
   */
  | {
      readonly type: 'update';
      readonly node: NodeId;
      readonly key: string;
      readonly value: StateValue | undefined;
      readonly version: number;
      readonly record: SignedRecord | undefined;
    }
  /** A node's heartbeat grew (feed the phi detector: `detector.heartbeat(node, now)`). */
  | {
      readonly type: 'heartbeat';
      readonly node: NodeId;
      readonly heartbeat: number;
      readonly record: SignedRecord;
    }
  /**
   * A node's state was reset: `generation` = it restarted (everything of the old generation was
   * dropped, each live key also reported as an `update` with `value: undefined`); `gc` = a peer had
   * collected tombstones this node never saw, so the node's keys are re-confirmed from the peer.
   */
  | {
      readonly type: 'nodeReset';
      readonly node: NodeId;
      readonly reason: 'generation' | 'gc';
      readonly generation: number;
      readonly previousGeneration: number;
    }
  /** A record this node just signed (set, delete, heartbeat): push it eagerly through SWIM. */
  | { readonly type: 'localRecord'; readonly record: SignedRecord };

/** Counters of the state core; monotonic. */
export interface StateStats {
  /** Records not applied because they are bad, by reason (`cairn_membership_records_rejected_total{reason}`). */
  readonly rejected: Record<RejectReason, number>;
  /** Records already held or superseded (normal with gossip; not an error). */
  duplicates: number;
  /** Remote records applied. */
  applied: number;
  /** Nodes dropped for a newer generation. */
  generationResets: number;
  /** Nodes reset because a peer had collected tombstones this node lacked. */
  gcResets: number;
  /** Tombstones collected. */
  tombstonesCollected: number;
  /** Syns dropped for naming another cluster. */
  badCluster: number;
  /** Records about this node itself received from peers (ignored: a node is its own authority). */
  ownIgnored: number;
}

/** Fresh zeroed stats. */
export function newStateStats(): StateStats {
  return {
    rejected: { unsigned: 0, forged: 0, stale: 0, malformed: 0, limit: 0, unvouched: 0, budget: 0 },
    duplicates: 0,
    applied: 0,
    generationResets: 0,
    gcResets: 0,
    tombstonesCollected: 0,
    badCluster: 0,
    ownIgnored: 0,
  };
}
