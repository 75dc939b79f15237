/**
 * `cairn/raft`: consensus. The pure core in etcd-io/raft's shape ({@link RaftCore} with its
 * `Ready`/`advance` contract), the in-memory log the core reads ({@link MemoryRaftLog}), the
 * durable segment log ({@link SegmentLogStore} over {@link LogFiles}), and the driver that runs
 * them on a clock, a transport and an application ({@link RaftNode}). See `DESIGN.md`.
 *
 * @packageDocumentation
 */
export {
  bootstrapState,
  DEFAULT_LIMITS as RAFT_CORE_LIMITS,
  type DropReason,
  decodeConfChange,
  encodeConfChange,
  MAX_CONF_CHANGE_CONTEXT_BYTES,
  type ProgressState,
  type ProgressStatus,
  RaftCore,
  type RaftCoreConfig,
  type RaftCoreLimits,
  type RaftStats,
  type RaftStatus,
} from './core/index.js';
export { isRaftError, RAFT_ERROR_CODES, RaftError, type RaftErrorCode } from './errors.js';
export {
  LOG_LIMITS,
  type LogFile,
  type LogFiles,
  type LogLimits,
  NodeLogFiles,
  SegmentLogStore,
  type SegmentLogStoreOptions,
} from './log/index.js';
export { MemoryRaftLog } from './memory-log.js';
export { DEFAULT_LIMITS as RAFT_NODE_LIMITS, type RaftNodeLimits } from './node/limits.js';
export { MemoryRaftLogStore } from './node/memory-log-store.js';
export type { RaftApplier, RaftNodeOptions } from './node/options.js';
export { RaftNode, type RaftNodeStatus, type RaftNodeStatusEvent } from './node/raft-node.js';
export { isStateMachineMarker, STATE_MACHINE_MARKER } from './node/snapshot-marker.js';
export { PeerStats } from './node/stats.js';
export {
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  LogGapError,
  type Message,
  type MessageType,
  NONE,
  type NodeId,
  type RaftLogReader,
  type RaftLogStore,
  type RaftRole,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.js';
