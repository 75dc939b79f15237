/**
 * The fault lab's limits. Every loop, list and wait of a lab run is bounded by one of these.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Most agents in one run: each is a Node process of about 100 MB and a few seconds of CPU to
   * start, and the address plan of a run is one /24 (hosts .1 to .253, the bridge .254).
   */
  maxNodes: 32,
  /** Longest fault phase, seconds: a long run is a day; anything longer is a typo. */
  maxDurationS: 86_400,
  /** Deadline of one `ip` or `nft` command, ms: they answer in milliseconds unless the kernel is wedged. */
  commandTimeoutMs: 10_000,
  /** Longest wait for an agent's `/health` after a (re)start, ms: tsx compiles the CLI on a busy 2-core box. */
  agentStartTimeoutMs: 60_000,
  /** Longest wait for the cluster to form before faults start, ms. */
  formTimeoutMs: 60_000,
  /** Most observations (member state changes) a run keeps in memory for its checker. */
  maxObservations: 1_000_000,
  /** Most faults one schedule may hold: a day-long run at one fault per lane every second. */
  maxFaults: 200_000,
  /** Longest blocking read of `/v1/members`, ms; the watcher asks again at once. */
  watchWaitMs: 5_000,
  /** Pause between two failed reads of one agent (killed, starting), ms: bounds the retry rate. */
  watchRetryMs: 200,
  /** Events printed around a violation, each side. */
  maxEventsAroundViolation: 12,
  /** Lab runs (address octets 1..250) that may exist on one machine at once. */
  maxConcurrentRuns: 250,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type LabLimits = typeof DEFAULT_LIMITS;
