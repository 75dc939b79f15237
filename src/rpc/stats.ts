/**
 * Counters of one channel. Plain numbers, cheap enough for the simulator's thousands of nodes; a
 * node exports them to its metrics registry when it wants them on `/metrics`.
 */
export interface RpcChannelStats {
  /** Frames handed to the stream (a batch counts once). */
  framesSent: number;
  /** Frames that arrived, malformed ones included. */
  framesReceived: number;
  /** Messages handed to the stream (each message of a batch counts). */
  messagesSent: number;
  /** Well-formed messages that arrived. */
  messagesReceived: number;
  /** Calls sent to the peer. */
  callsStarted: number;
  /** Calls answered with a valid response. */
  callsSucceeded: number;
  /** Calls answered with an error, or with a response that failed its validator. */
  callsFailed: number;
  /** Calls that ran out of time on this side. */
  callsTimedOut: number;
  /** Calls cancelled by their caller. */
  callsCancelled: number;
  /** Calls rejected at once because `maxInFlightPerChannel` calls were outstanding. */
  rejectedInFlight: number;
  /** Peer requests answered RPC_OVERLOADED because `maxConcurrentHandlers` handlers were running. */
  rejectedConcurrency: number;
  /** Peer requests answered with an error before reaching a handler (unknown method, bad payload). */
  rejectedRequests: number;
  /** Peer requests whose handler ran. */
  handlersStarted: number;
  /** Answers for calls this side had already given up on (or never made). */
  lateAnswers: number;
  /** Frames dropped because they failed to decode or broke the protocol. */
  malformedFrames: number;
  /** Frames the stream refused (backpressure, size); the calls they carried were rejected. */
  sendFailures: number;
}

/** A zeroed {@link RpcChannelStats}. */
export function newStats(): RpcChannelStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    callsStarted: 0,
    callsSucceeded: 0,
    callsFailed: 0,
    callsTimedOut: 0,
    callsCancelled: 0,
    rejectedInFlight: 0,
    rejectedConcurrency: 0,
    rejectedRequests: 0,
    handlersStarted: 0,
    lateAnswers: 0,
    malformedFrames: 0,
    sendFailures: 0,
  };
}
