import type { NodeId } from '../security/identity.js';
import type { Address } from '../transport/types.js';

/**
 * The public types of `cairn/membership`: members, their states, and events.
 */

/**
 * A member's state as this node sees it.
 * - `alive`: answering probes (or heartbeats, with the phi detector).
 * - `suspect`: failed a probe; will be declared dead unless it refutes in time.
 * - `dead`: declared failed; kept for `reapAfterMs`, still gossiped to for `gossipToTheDeadMs`.
 * - `left`: announced a graceful leave; distinct from `dead`.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** A value in a node's key/value state: strings and bytes are kept apart on the wire. */
export type StateValue = string | Uint8Array;

/** One member of the cluster, as this node sees it. A snapshot: later changes do not update it. */
export interface Member {
  /** The member's node id (its public key). */
  readonly id: NodeId;
  /** Its human-readable name (not unique; the id is). */
  readonly name: string;
  /** Where it receives packets and streams. */
  readonly address: Address;
  /** Its state. */
  readonly state: MemberState;
  /** SWIM incarnation within the generation; grows when the member refutes a suspicion. */
  readonly incarnation: number;
  /** Generation: grows with every restart of the member. */
  readonly generation: number;
  /** Its key/value state (Scuttlebutt), without tombstones. */
  readonly metadata: Readonly<Record<string, StateValue>>;
  /** True for this node's own entry. */
  readonly local: boolean;
  /** Virtual or real time (ms) of the last state change seen here. */
  readonly stateSinceMs: number;
}

/** A membership event. `update` is a key/value change; the others are state changes. */
export type MembershipEvent =
  | { readonly type: 'join'; readonly member: Member }
  | { readonly type: 'alive'; readonly member: Member }
  | { readonly type: 'suspect'; readonly member: Member }
  | { readonly type: 'dead'; readonly member: Member }
  | { readonly type: 'leave'; readonly member: Member }
  | {
      readonly type: 'update';
      readonly node: NodeId;
      readonly key: string;
      /** The new value, or undefined when the key was deleted. */
      readonly value: StateValue | undefined;
      readonly version: number;
    };

/** The event type names. */
export type MembershipEventType = MembershipEvent['type'];

/** A user message received through {@link Membership.send} or `broadcast`. */
export interface UserMessage {
  readonly from: NodeId;
  readonly data: Uint8Array;
  /** `direct` for `send`, `broadcast` for `broadcast`. */
  readonly kind: 'direct' | 'broadcast';
}
