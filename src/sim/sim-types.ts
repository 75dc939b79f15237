import type { Clock, Logger, Rng, Seed } from '../core/index.js';
import type { Address, Transport } from '../transport/types.js';
import type { ClockSkew } from './clock.js';
import type { SimDisk, SimDiskOptions } from './disk.js';
import type { SimFiles, SimFilesLatency } from './files.js';
import type { SimLimits } from './limits.js';
import type { NetworkOptions, SimNetwork, SimTransportOptions } from './network.js';

/** Types of the simulator's public API: options, node contexts and factories. */

/** Options of a {@link Simulator}. */
export interface SimulatorOptions {
  /** The root seed; every random choice of the run derives from it. */
  seed: Seed;
  /** Virtual time at start, in ms since the Unix epoch; default {@link SIM_EPOCH_MS}. */
  epochMs?: number;
  /**
   * Let every promise an event released settle before the next event (default true). Turn it
   * off only when every driver is synchronous: it is then several times faster.
   */
  settle?: boolean;
  /** Lines kept by the trace log (0, the default, keeps none). */
  traceLog?: number;
  /** The network's defaults (latency, loss, duplication, MTU). */
  network?: NetworkOptions;
  /** Limits overrides. */
  limits?: Partial<SimLimits>;
  /** Where the simulator reports handler errors; nodes get children. Default: silent. */
  logger?: Logger;
}

/** Options of a run call. */
export interface RunOptions {
  /** Overrides the simulator's `settle` for this call. */
  settle?: boolean;
  /** Called after every `afterEventEvery`-th event; throwing stops the run with that error. */
  afterEvent?: () => void;
  /** Period of `afterEvent` in events; default 1. */
  afterEventEvery?: number;
}

/** Options of {@link Simulator.runUntil}. */
export interface RunUntilOptions extends RunOptions {
  /** Give up after this much virtual time; default 60,000 ms. */
  maxMs?: number;
}

/** What a node factory receives. Its clock, rng, transports and disk belong to this incarnation. */
export interface SimNodeContext {
  /** The node's name. */
  readonly name: string;
  /** The node's index (creation order). */
  readonly index: number;
  /** 0 at first start, +1 per restart. */
  readonly incarnation: number;
  /** The node's virtual clock (skewed if configured). */
  readonly clock: Clock;
  /** The node's random stream, derived from the seed, the name and the incarnation. */
  readonly rng: Rng;
  /** The node's default address (`10.a.b.c:7946`, or the one given to `addNode`). */
  readonly address: Address;
  /** The network, for reading counters or setting rules. */
  readonly network: SimNetwork;
  /** Opens a transport owned by this node; default address {@link SimNodeContext.address}. */
  transport(options?: SimTransportOptions & { address?: Address }): Transport;
  /** The node's disk; the same data across restarts (unsynced writes lost on crash). */
  readonly disk: SimDisk;
  /** The node's log files (the raft log's directory); kept across restarts like `disk`. */
  readonly files: SimFiles;
  /** A logger with `{ node: name }` bindings. */
  readonly logger: Logger;
}

/** What a factory usually returns: any object, optionally with a `stop()` for graceful shutdown. */
export interface SimNodeHandle {
  /** Stops the node gracefully (used by {@link Simulator.stopNode}, never by a crash). */
  stop?(): void | Promise<void>;
}

/** Builds a node's production objects from its simulated context. */
export type SimNodeFactory<H = SimNodeHandle> = (ctx: SimNodeContext) => H | Promise<H>;

/** Options of {@link Simulator.addNode}. */
export interface AddNodeOptions {
  /** The node's default address; default `10.a.b.c:7946` from its index. */
  address?: Address;
  /** Clock skew of the node. */
  skew?: ClockSkew;
  /** Disk latency and fault settings. */
  disk?: Omit<SimDiskOptions, 'clock' | 'rng'>;
  /** Latencies of the node's log files. */
  files?: SimFilesLatency;
}

/** Lifecycle state of a node. */
export type SimNodeState = 'up' | 'paused' | 'down';
