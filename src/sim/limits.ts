/**
 * Limits of the simulator.
 *
 * Every queue the simulator keeps has a named maximum here, with the reason for its size. Override
 * them per simulator with `new Simulator({ limits: { ... } })`; overrides are merged with core's
 * `withLimits`, which rejects unknown names and non-positive values.
 */
export const DEFAULT_LIMITS: {
  readonly maxEvents: number;
  readonly maxEventsAtOneInstant: number;
  readonly maxTraceLogEntries: number;
  readonly maxInFlightPacketsPerTransport: number;
  readonly maxNodes: number;
  readonly maxDiskBatchOps: number;
  readonly maxSwarmSeeds: number;
  readonly maxPartitionHistory: number;
} = Object.freeze({
  /**
   * Events pending in the scheduler's queue (timers, packets, frames, disk completions). 10 million
   * records is about 1.5 GB: a run that needs more has a bug (a timer storm), not a big cluster.
   */
  maxEvents: 10_000_000,
  /**
   * Events processed at one virtual instant before the run is declared a livelock: a driver that
   * sets zero-delay timers forever would otherwise never let virtual time advance.
   */
  maxEventsAtOneInstant: 1_000_000,
  /** Lines kept by the optional trace log (a ring: the newest win); enough to read a failure's tail. */
  maxTraceLogEntries: 1_000_000,
  /**
   * Packets in flight towards one transport (sent, not yet delivered), like a socket's receive
   * buffer: a paused node cannot make the simulator hold unbounded memory. Over it, packets are
   * dropped and counted as `queue_full`, which is what UDP does.
   */
  maxInFlightPacketsPerTransport: 16_384,
  /** Nodes in one simulator: 100,000 is ten times the largest membership run the project needs. */
  maxNodes: 100_000,
  /** Operations in one disk batch: bounds the memory and the time one atomic write can take. */
  maxDiskBatchOps: 100_000,
  /** Seeds one swarm call runs: a sweep longer than that belongs in a loop of separate calls. */
  maxSwarmSeeds: 1_000_000,
  /**
   * Healed partitions remembered for `SimNetwork.cutSince` (a safety checker's question "was this
   * link cut in the last W ms"): a swarm makes a few per second, so 4,096 cover any window a
   * checker asks about; older ones are forgotten and the answer before them is "maybe cut".
   */
  maxPartitionHistory: 4_096,
});

/** The type of {@link DEFAULT_LIMITS}: one number per limit. */
export type SimLimits = typeof DEFAULT_LIMITS;
