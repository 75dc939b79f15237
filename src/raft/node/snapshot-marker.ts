import { bytesEqual } from '../../core/index.js';

/**
 * The `data` of a compaction snapshot whose state lives in the application's own durable storage
 * (an applier with `persist`, see {@link RaftApplier}): the snapshot holds only its metadata
 * (index, term, configuration), as etcd's raft snapshots hold no backend data. Such a snapshot is
 * never sent or restored: a follower that needs one gets an image built at send time, and a
 * restart requires the application to be durable at or past its index.
 *
 * An application's own images must never equal these bytes (the store's are MessagePack maps; a
 * text this long and specific cannot be one).
 */
export const STATE_MACHINE_MARKER: Uint8Array = new TextEncoder().encode(
  'cairn/raft: snapshot data is in the state machine (v1)',
);

/** True when `data` is {@link STATE_MACHINE_MARKER}: a metadata-only snapshot. */
export function isStateMachineMarker(data: Uint8Array): boolean {
  return data.length === STATE_MACHINE_MARKER.length && bytesEqual(data, STATE_MACHINE_MARKER);
}
