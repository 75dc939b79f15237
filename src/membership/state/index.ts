/**
 * The Scuttlebutt state core of membership: each node's signed, versioned key/value map,
 * reconciled by `Syn -> SynAck -> Ack` digest/delta exchanges bounded by the MTU, with tombstones,
 * garbage collection, generations and heartbeats. Pure: the membership driver does the IO.
 * See DESIGN.md here and the brick's DESIGN.md.
 *
 * @packageDocumentation
 */
export {
  type DeltaOptions,
  ScuttlebuttState,
  type ScuttlebuttStateOptions,
  type StateStep,
} from './cluster-state.js';
export {
  DEFAULT_STATE_CONFIG,
  MAX_HEARTBEAT_WIRE_BYTES,
  MAX_NODE_DELTA_HEADER_BYTES,
  maxRecordWireBytes,
  minimumMtuBytes,
  type StateConfig,
  stateConfig,
} from './config.js';
export { newStateStats, type StateEvent, type StateStats } from './events.js';
export { DEFAULT_LIMITS, type StateLimits, stateLimits } from './limits.js';
export {
  type Ack,
  type Digest,
  type DigestEntry,
  decodeStateMessage,
  encodeStateMessage,
  MAX_CLUSTER_NAME_LENGTH,
  type NodeDelta,
  type StateMessage,
  type Syn,
  type SynAck,
  stateMessageValidator,
  type WireRecord,
} from './messages.js';
export type { StateEntry } from './node-state.js';
export {
  decodeStatePayload,
  type HeartbeatFields,
  type KvFields,
  makeHeartbeatRecord,
  makeKvRecord,
  type OpenedRecord,
  openKvRecord,
  openStateRecord,
  type PayloadBounds,
  REJECT_REASONS,
  type RejectReason,
  type StatePayload,
  type StateValue,
} from './records.js';
