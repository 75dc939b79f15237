/**
 * Counters of the driver's peer traffic: what was sent, and what was refused or dropped and why.
 * Plain numbers so tests and `status` can read them without a metrics registry.
 */
export class PeerStats {
  /** Message frames sent (each a batch of messages to one peer). */
  framesSent = 0;
  /** Messages sent to peers. */
  messagesSent = 0;
  /** Messages received from peers and stepped into the core. */
  messagesReceived = 0;
  /** Outbound messages dropped: the peer's queue was full, its stream down, or it had no address. */
  messagesDropped = 0;
  /** Inbound frames refused as malformed, misaddressed or over a limit (the stream is closed). */
  badFrames = 0;
  /** Inbound streams refused before any message (bad hello, unknown peer, over the stream limit). */
  streamsRefused = 0;
  /** Dials that failed. */
  dialFailures = 0;
  /** Snapshots sent in full and acknowledged. */
  snapshotsSent = 0;
  /** Snapshot transfers that failed either way (sender or receiver side). */
  snapshotsFailed = 0;
  /** Snapshots received in full, checked and stepped. */
  snapshotsReceived = 0;

  /** A plain copy of the counters. */
  toJSON(): Record<string, number> {
    return { ...(this as unknown as Record<string, number>) };
  }
}
