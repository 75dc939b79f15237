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
  /**
   * Deadline of one store operation, ms: under the store's own 7 s request timeout plus a margin,
   * so a client learns about a stuck write (recorded unknown) and goes on.
   */
  storeOpTimeoutMs: 5_000,
  /** Pause of a store client after a failed call, ms: a dead node is not hammered in a tight loop. */
  storeErrorBackoffMs: 250,
  /**
   * Operations started on one key before it is retired for a fresh one: keeps each key's history,
   * which the checker searches on its own, short whatever the run's length (Jepsen's independent keys).
   */
  storeOpsPerKey: 200,
  /** Keys in use at once: few, so clients collide on them and the checker has something to check. */
  storeActiveKeys: 6,
  /** Operations a store run records: a history is held in memory whole, and checked whole. */
  storeMaxOperations: 2_000_000,
  /** Keys per final range read: each page is one linearizable read, one request of bounded size. */
  storeFinalReadKeys: 500,
  /** Attempts of one final read page on one node before it counts as failed (healed cluster, settling). */
  storeFinalReadAttempts: 20,
  /** Longest wait for one store leader everyone agrees on and caught-up members, ms. */
  storeSettleTimeoutMs: 120_000,
  /** Longest wait for a learner to be promoted (the store refuses until it caught up), ms. */
  storePromoteTimeoutMs: 60_000,
  /**
   * Deadline of one kv (Redis protocol) call, ms: above the store's own read timeout (5 s) plus its
   * speculative retry, so the store answers TIMEOUT itself when it can; past it the call is unknown.
   */
  kvOpTimeoutMs: 6_000,
  /** Pause of a kv client after a failed call, ms: a dead node is not hammered in a tight loop. */
  kvErrorBackoffMs: 250,
  /** Operations on one kv key before it is retired: keeps each key's history, which the checker compares pairwise, short. */
  kvOpsPerKey: 200,
  /** Kv keys in use at once: few, so clients overwrite each other and reads have something to disagree about. */
  kvActiveKeys: 8,
  /** Operations a kv run records (memory: the history is held and checked whole). */
  kvMaxOperations: 2_000_000,
  /** Keys per final MGET: one request of bounded size, read at one level through one node. */
  kvFinalReadKeys: 100,
  /** Attempts of one final MGET page before the node counts as unreadable at that level. */
  kvFinalReadAttempts: 20,
  /** Longest wait for the kv ring to list every node normal on every node, ms. */
  kvFormTimeoutMs: 90_000,
  /** Longest wait after the heal for every node's hints to be delivered, ms. */
  kvHintsTimeoutMs: 120_000,
  /**
   * Anti-entropy period the lab gives its agents, ms: short, so a run waits seconds, not the
   * default 10 minutes, for the rounds that must follow the heal.
   */
  kvAntiEntropyIntervalMs: 5_000,
  /** Hint replay period the lab gives its agents, ms (the default is 10 s). */
  kvHintReplayIntervalMs: 1_000,
  /** Anti-entropy rounds every node must complete after the heal (the first may have begun before it). */
  kvRepairRounds: 2,
  /** Violations of one kind a kv check lists (the rest are counted): a broken store would list thousands. */
  kvMaxViolationsPerKind: 50,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type LabLimits = typeof DEFAULT_LIMITS;
