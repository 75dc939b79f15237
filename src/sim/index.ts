/**
 * `cairn/sim`: the deterministic simulator. Virtual clocks and a seeded scheduler over a heap of
 * event records; a simulated network implementing the transport brick's `Transport` (latency,
 * loss, duplication, reordering, MTU, partitions, per-link rules); a simulated disk implementing
 * core's `Storage` (unsynced writes lost on crash, injected faults); node pause, crash and
 * restart; the trace hash that identifies a run; the swarm runner; and the ping simulation behind
 * `cairn sim ping`.
 *
 * @packageDocumentation
 */
export { type ClockSkew, VirtualClock } from './clock.js';
export { DISK_LIMITS, MemoryStorage, SimDisk, type SimDiskFaults, type SimDiskOptions } from './disk.js';
export { EventHeap, EventKind, SimEvent } from './events.js';
export { SimFiles, type SimFilesLatency, type SimFilesOptions } from './files.js';
export { DEFAULT_LATENCY, describeLatency, type Latency, sampleLatency, validateLatency } from './latency.js';
export { DEFAULT_LIMITS, type SimLimits } from './limits.js';
export {
  type LinkRule,
  type NetworkDropReason,
  type NetworkOptions,
  type NetworkSettings,
  NetworkStats,
  SIM_NETWORK_DEFAULTS,
  SimNetwork,
  type SimTransportOptions,
} from './network.js';
export {
  addPingNodes,
  PING_LIMITS,
  type PingClusterOptions,
  PingMessage,
  PingNode,
  type PingSimOptions,
  type PingSimResult,
  runPingSim,
} from './ping.js';
export { parseSeed, seedFromEnv } from './seed.js';
export {
  type AddNodeOptions,
  defaultNodeAddress,
  type RunOptions,
  type RunUntilOptions,
  SIM_EPOCH_MS,
  type SimNodeContext,
  type SimNodeFactory,
  type SimNodeHandle,
  type SimNodeState,
  Simulator,
  type SimulatorOptions,
} from './simulator.js';
export { SimStreamEnd } from './stream.js';
export {
  describeFaults,
  drawFaults,
  type FaultProfile,
  type FaultSettings,
  runSwarm,
  type SwarmChecker,
  type SwarmContext,
  type SwarmFailure,
  type SwarmOptions,
  type SwarmResult,
  type SwarmRun,
} from './swarm.js';
export { SimTransport } from './transport.js';
