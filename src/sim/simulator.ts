import {
  assert,
  CairnError,
  type Clock,
  type Logger,
  Rng,
  type Seed,
  silentLogger,
  withLimits,
} from '../core/index.js';
import type { Address } from '../transport/types.js';
import { type ClockSkew, SkewState, type TimerHost, VirtualClock } from './clock.js';
import { SimDisk, type SimDiskOptions } from './disk.js';
import { EventKind, SimEvent } from './events.js';
import { SimFiles, type SimFilesLatency } from './files.js';
import { DEFAULT_LIMITS, type SimLimits } from './limits.js';
import { SimNetwork } from './network.js';
import { Scheduler } from './scheduler.js';
import type {
  AddNodeOptions,
  RunOptions,
  RunUntilOptions,
  SimNodeContext,
  SimNodeFactory,
  SimNodeHandle,
  SimNodeState,
  SimulatorOptions,
} from './sim-types.js';
import { describeEvent, Trace } from './trace.js';

export type {
  AddNodeOptions,
  RunOptions,
  RunUntilOptions,
  SimNodeContext,
  SimNodeFactory,
  SimNodeHandle,
  SimNodeState,
  SimulatorOptions,
} from './sim-types.js';

/** The virtual epoch: 2023-11-14T22:13:20Z, so expiry and token math looks like real time. */
export const SIM_EPOCH_MS = 1_700_000_000_000;

const UP = 0;
const PAUSED = 1;
const DOWN = 2;
const STATE_NAMES: readonly SimNodeState[] = ['up', 'paused', 'down'];

interface NodeRecord {
  readonly name: string;
  readonly index: number;
  readonly address: Address;
  readonly factory: SimNodeFactory<unknown>;
  readonly skew: SkewState;
  readonly diskOptions: Omit<SimDiskOptions, 'clock' | 'rng'>;
  readonly filesOptions: SimFilesLatency;
  state: number;
  inc: number;
  /** Virtual time since which the node has run without a pause or crash; +Infinity when not up. */
  steadySince: number;
  clock: VirtualClock;
  held: SimEvent[];
  pausedUntil: number;
  resume: SimEvent | null;
  handle: unknown;
  disk: SimDisk | undefined;
  files: SimFiles | undefined;
}

function settleTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The default address of node `index`: 10.0.0.1:7946 for index 0. */
export function defaultNodeAddress(index: number): Address {
  const n = index + 1;
  return `10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}:7946`;
}

/**
 * The deterministic simulator: one seeded scheduler over a binary heap of event records, virtual
 * time, a simulated network and disks, and nodes that can be paused, crashed and restarted.
 *
 * Contract: events run one at a time in `(time, sequence)` order; after each one (unless
 * `settle: false`) every promise it released settles before the next is picked, so async drivers
 * are deterministic too. The same seed and the same calls give the same {@link traceHash}. A
 * throwing timer callback is a bug: it propagates out of the run call. Events of a paused node
 * are held until it resumes; events of a crashed node are dropped.
 *
 * @example
 * ```ts
 * const sim = new Simulator({ seed: 42 });
 * sim.addNode('a', ({ clock }) => { clock.setTimer(100, () => console.log('tick')); return {}; });
 * await sim.runFor(1_000);
 * console.log(sim.traceHash());
 * ```
 */
export class Simulator implements TimerHost {
  /** The root seed. */
  readonly seed: Seed;
  /** The root random stream; components use children of it. */
  readonly rng: Rng;
  /** The limits in force. */
  readonly limits: SimLimits;
  /** The simulated network. */
  readonly network: SimNetwork;
  /** The simulator's own clock (true virtual time), for test code and standalone transports. */
  readonly clock: VirtualClock;
  /** Where handler errors are reported. */
  readonly logger: Logger;
  /** Virtual time at start. */
  readonly epochMs: number;

  private time: number;
  private readonly queue: Scheduler;
  private readonly trace: Trace;
  private readonly settleDefault: boolean;
  private readonly nodes: NodeRecord[] = [];
  private readonly byName = new Map<string, NodeRecord>();
  private running = false;
  private lastAt = Number.NEGATIVE_INFINITY;
  private atInstant = 0;

  /** @param options - see {@link SimulatorOptions} */
  constructor(options: SimulatorOptions) {
    this.seed = options.seed;
    this.rng = Rng.fromSeed(options.seed);
    this.limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
    this.queue = new Scheduler(this.limits.maxEvents);
    this.epochMs = options.epochMs ?? SIM_EPOCH_MS;
    this.time = this.epochMs;
    this.settleDefault = options.settle ?? true;
    this.trace = new Trace(
      options.traceLog === undefined ? 0 : Math.min(options.traceLog, this.limits.maxTraceLogEntries),
    );
    this.logger = options.logger ?? silentLogger();
    this.clock = new VirtualClock(this, -1, 0);
    this.network = new SimNetwork(this, options.network ?? {});
  }

  /** Virtual time in ms since the Unix epoch. */
  get now(): number {
    return this.time;
  }

  /** Virtual ms elapsed since the start. */
  get elapsedMs(): number {
    return this.time - this.epochMs;
  }

  /** Events delivered so far. */
  get eventCount(): number {
    return this.trace.events;
  }

  /** Events queued (cancelled timers not yet removed included). */
  get pendingEvents(): number {
    return this.queue.size;
  }

  /** The trace hash: 16 hex digits identifying the run so far. */
  traceHash(): string {
    return this.trace.hex();
  }

  /** The trace log's lines, oldest first (empty unless `traceLog` was set). */
  traceLines(): string[] {
    return this.trace.lines();
  }

  // ---------------------------------------------------------------- scheduling

  /** Queues an event (sets its sequence number). Used by the network and disks. */
  enqueue(ev: SimEvent): SimEvent {
    assert(ev.at >= this.time, `event scheduled in the past: ${ev.at} < ${this.time}`);
    return this.queue.enqueue(ev);
  }

  /**
   * @internal Re-queues events that were held back (stalled by a partition) to run now, in the
   * given order, ahead of every other event of this instant.
   */
  requeueNow(events: readonly SimEvent[]): void {
    this.queue.requeueFirst(events, this.time);
  }

  /** @internal Timer host: queues a timer event. */
  scheduleTimer(at: number, node: number, inc: number, fn: () => void): SimEvent {
    const ev = new SimEvent();
    ev.at = at;
    ev.kind = EventKind.timer;
    ev.node = node;
    ev.inc = inc;
    ev.fn = fn;
    return this.enqueue(ev);
  }

  /** @internal Timer host: cancels a queued event. */
  cancelEvent(ev: SimEvent): void {
    if (ev instanceof SimEvent) this.queue.cancel(ev);
  }

  /**
   * Runs `fn` after `delayMs` of virtual time as a simulator event (not owned by any node, so
   * pauses and crashes do not affect it). For fault schedules and test scripts.
   *
   * @returns a handle for `sim.clock.cancel`
   */
  schedule(delayMs: number, fn: () => void): SimEvent {
    const ev = new SimEvent();
    ev.at = this.time + Math.max(0, delayMs);
    ev.kind = EventKind.call;
    ev.fn = fn;
    return this.enqueue(ev);
  }

  // ---------------------------------------------------------------- nodes

  /**
   * Adds a node and runs its factory now.
   *
   * @param name - unique node name
   * @param factory - builds the node from its context; may be async
   * @param options - address, clock skew, disk settings
   * @returns the node's default address
   */
  addNode<H>(name: string, factory: SimNodeFactory<H>, options: AddNodeOptions = {}): Address {
    if (this.byName.has(name))
      throw new CairnError('INVALID_ARGUMENT', `a node named "${name}" exists already`);
    if (this.nodes.length >= this.limits.maxNodes) {
      throw new CairnError(
        'LIMIT_EXCEEDED',
        `simulator holds ${this.nodes.length} nodes, maxNodes=${this.limits.maxNodes}`,
      );
    }
    const index = this.nodes.length;
    const skew = new SkewState(this.time, options.skew);
    const node: NodeRecord = {
      name,
      index,
      address: options.address ?? defaultNodeAddress(index),
      factory: factory as SimNodeFactory<unknown>,
      skew,
      diskOptions: options.disk ?? {},
      filesOptions: options.files ?? {},
      state: UP,
      inc: 0,
      steadySince: this.time,
      clock: new VirtualClock(this, index, 0, skew),
      held: [],
      pausedUntil: 0,
      resume: null,
      handle: undefined,
      disk: undefined,
      files: undefined,
    };
    this.nodes.push(node);
    this.byName.set(name, node);
    this.start(node);
    return node.address;
  }

  /** Names of all nodes, in creation order. */
  nodeNames(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** The node's state. */
  nodeState(name: string): SimNodeState {
    return STATE_NAMES[this.record(name).state]!;
  }

  /** The node's current handle (undefined while down or while an async factory runs). */
  handle<H = SimNodeHandle>(name: string): H | undefined {
    return this.record(name).handle as H | undefined;
  }

  /** The node's current clock. */
  clockFor(name: string): Clock {
    return this.record(name).clock;
  }

  /** The node's default address. */
  addressOf(name: string): Address {
    return this.record(name).address;
  }

  /** The node's disk (created on first use). */
  diskOf(name: string): SimDisk {
    return this.diskFor(this.record(name));
  }

  /** The node's log files (created on first use): kept across restarts like its disk. */
  filesOf(name: string): SimFiles {
    return this.filesFor(this.record(name));
  }

  /** @internal The name of node `index` (for trace lines and the network's partition rules). */
  nodeName(index: number): string {
    return index < 0 ? 'sim' : (this.nodes[index]?.name ?? `#${index}`);
  }

  /** @internal The index of the node called `name`, or -1. */
  nodeIndex(name: string): number {
    return this.byName.get(name)?.index ?? -1;
  }

  /** @internal The current incarnation of node `index`. */
  incarnationOf(index: number): number {
    return this.nodes[index]?.inc ?? 0;
  }

  /**
   * Virtual time since which the node has been up without a pause, crash or restart, or undefined
   * while it is paused or down. For safety checkers ("was this node running all along?").
   */
  steadySince(name: string): number | undefined {
    const since = this.record(name).steadySince;
    return since === Number.POSITIVE_INFINITY ? undefined : since;
  }

  /**
   * Changes a node's clock skew from now on. A running incarnation's reading never goes backwards
   * (it holds until true time catches up); the next incarnation after a crash reads the new
   * offset at once, as a restarted process reads a clock that was stepped back while it was down.
   */
  setClockSkew(name: string, skew: ClockSkew): void {
    this.record(name).skew.set(this.time, skew);
  }

  /**
   * Pauses a node for `ms` of virtual time, like a long GC pause or a stopped VM: its timers and
   * deliveries are held and run, in their original order, when it resumes. Pausing a paused node
   * extends the pause to the later end.
   */
  pause(name: string, ms: number): void {
    const node = this.record(name);
    if (node.state === DOWN) throw new CairnError('SIM_NODE_DOWN', `cannot pause node "${name}": it is down`);
    const until = this.time + Math.max(0, ms);
    if (node.state === PAUSED && until <= node.pausedUntil) return;
    if (node.resume !== null) this.cancelEvent(node.resume);
    node.state = PAUSED;
    node.steadySince = Number.POSITIVE_INFINITY;
    node.pausedUntil = until;
    node.resume = this.schedule(ms, () => this.resumeNode(node));
  }

  /** Ends a pause now. */
  resume(name: string): void {
    const node = this.record(name);
    if (node.resume !== null) this.cancelEvent(node.resume);
    this.resumeNode(node);
  }

  /**
   * Crashes a node: its timers are cancelled, its transports close abruptly (peers see their
   * streams reset), its disk loses unsynced writes, its handle is dropped without `stop()`.
   * Deliveries to it are dropped until it restarts.
   */
  crash(name: string): void {
    const node = this.record(name);
    if (node.state === DOWN) return;
    this.takeDown(node);
    this.network.crashNode(node.index);
    node.disk?.crash();
    node.files?.crash();
  }

  /**
   * Stops a node gracefully: awaits its handle's `stop()`, then closes its transports cleanly.
   * Its disk keeps every write (a clean shutdown loses nothing).
   */
  async stopNode(name: string): Promise<void> {
    const node = this.record(name);
    if (node.state === DOWN) return;
    const handle = node.handle as SimNodeHandle | undefined;
    if (typeof handle?.stop === 'function') await handle.stop();
    this.takeDown(node);
    await this.network.closeNode(node.index);
    node.disk?.shutdown();
    node.files?.shutdown();
  }

  /** Restarts a down node: the factory runs again with a new incarnation and the same disk. */
  restart(name: string): void {
    const node = this.record(name);
    if (node.state !== DOWN)
      throw new CairnError(
        'INVALID_ARGUMENT',
        `cannot restart node "${name}": it is ${this.nodeState(name)}`,
      );
    node.state = UP;
    node.steadySince = this.time;
    node.skew.reboot();
    node.clock = new VirtualClock(this, node.index, node.inc, node.skew);
    node.disk?.reopen(node.clock);
    node.files?.reopen(node.clock);
    this.start(node);
  }

  private takeDown(node: NodeRecord): void {
    node.inc++;
    node.state = DOWN;
    node.steadySince = Number.POSITIVE_INFINITY;
    node.held = [];
    node.handle = undefined;
    if (node.resume !== null) this.cancelEvent(node.resume);
    node.resume = null;
  }

  private resumeNode(node: NodeRecord): void {
    node.resume = null;
    if (node.state !== PAUSED) return;
    node.state = UP;
    node.steadySince = this.time;
    const held = node.held;
    node.held = [];
    // Held events run first at the resume instant, in the order they were due, so a frame sent
    // during the pause and due exactly now still follows the held frames of its stream.
    this.queue.requeueFirst(held, this.time);
  }

  private record(name: string): NodeRecord {
    const node = this.byName.get(name);
    if (node === undefined) throw new CairnError('NOT_FOUND', `no node named "${name}" in the simulator`);
    return node;
  }

  private diskFor(node: NodeRecord): SimDisk {
    if (node.disk === undefined) {
      node.disk = new SimDisk({
        ...node.diskOptions,
        clock: node.clock,
        rng: this.rng.child(`disk:${node.name}`),
        limits: { maxBatchOps: this.limits.maxDiskBatchOps },
      });
    }
    return node.disk;
  }

  private filesFor(node: NodeRecord): SimFiles {
    node.files ??= new SimFiles({
      ...node.filesOptions,
      clock: node.clock,
      rng: this.rng.child(`files:${node.name}`),
    });
    return node.files;
  }

  private start(node: NodeRecord): void {
    const sim = this;
    const inc = node.inc;
    const clock = node.clock;
    let rng: Rng | undefined;
    let logger: Logger | undefined;
    const ctx: SimNodeContext = {
      name: node.name,
      index: node.index,
      incarnation: inc,
      clock,
      address: node.address,
      network: this.network,
      get rng() {
        rng ??= sim.rng.child(inc === 0 ? `node:${node.name}` : `node:${node.name}#${inc}`);
        return rng;
      },
      get logger() {
        logger ??= sim.logger.child({ node: node.name });
        return logger;
      },
      get disk() {
        return sim.diskFor(node);
      },
      get files() {
        return sim.filesFor(node);
      },
      transport(options = {}) {
        if (node.inc !== inc)
          throw new CairnError('SIM_NODE_DOWN', `node "${node.name}" crashed; its old context is dead`);
        const { address, ...rest } = options;
        return sim.network.attach(address ?? node.address, node.index, inc, clock, rest);
      },
    };
    const result = node.factory(ctx);
    if (result instanceof Promise) {
      result.then(
        (handle) => {
          if (node.inc === inc) node.handle = handle;
        },
        (err: unknown) => this.logger.error({ node: node.name, err }, 'node factory failed'),
      );
    } else {
      node.handle = result;
    }
  }

  // ---------------------------------------------------------------- running

  /** Virtual time of the next due event, or undefined when nothing is queued. */
  nextEventAt(): number | undefined {
    return this.queue.peekAt();
  }

  /**
   * Delivers one event (jumping virtual time to it) and, unless `settle` is false, lets the
   * promises it released settle.
   *
   * @returns false when nothing was queued
   */
  async step(options: { settle?: boolean } = {}): Promise<boolean> {
    this.enter();
    try {
      const ev = this.queue.popDue(Number.POSITIVE_INFINITY);
      if (ev === undefined) return false;
      this.dispatch(ev);
      if (options.settle ?? this.settleDefault) await settleTick();
      return true;
    } finally {
      this.running = false;
    }
  }

  /**
   * Runs every event due within the next `ms` of virtual time, then sets the time to the end.
   *
   * @returns the number of events delivered
   */
  async runFor(ms: number, options: RunOptions = {}): Promise<number> {
    if (!Number.isFinite(ms) || ms < 0)
      throw new CairnError('INVALID_ARGUMENT', `runFor needs ms >= 0, got ${ms}`);
    const end = this.time + ms;
    const before = this.trace.events;
    await this.loop(end, undefined, options);
    if (this.time < end) this.time = end;
    return this.trace.events - before;
  }

  /**
   * Runs until `predicate` holds (checked before the first and after every event) or `maxMs` of
   * virtual time pass.
   *
   * @returns whether the predicate held
   */
  async runUntil(predicate: () => boolean, options: RunUntilOptions = {}): Promise<boolean> {
    const maxMs = options.maxMs ?? 60_000;
    const end = this.time + maxMs;
    const held = await this.loop(end, predicate, options);
    if (!held && this.time < end) this.time = end;
    return held;
  }

  /**
   * Runs the simulator in the background: events are processed one by one (time jumping to the
   * next), yielding to the event loop after each, and the loop idles without spinning when the
   * queue is empty. Test code can then simply `await` operations on simulated transports.
   *
   * @returns `stop()`, which ends the loop and rejects with the error that stopped it, if any
   */
  autoRun(): () => Promise<void> {
    this.enter();
    let stopped = false;
    let failure: unknown;
    const loop = async () => {
      while (!stopped) {
        const ev = this.queue.popDue(Number.POSITIVE_INFINITY);
        if (ev === undefined) {
          await this.queue.idle();
          continue;
        }
        try {
          this.dispatch(ev);
        } catch (err) {
          failure = err;
          this.logger.error({ err }, 'simulator stopped: an event handler threw');
          stopped = true;
        }
        await settleTick();
      }
    };
    const done = loop().finally(() => {
      this.running = false;
    });
    return async () => {
      stopped = true;
      this.queue.wake();
      await done;
      if (failure !== undefined) throw failure;
    };
  }

  private enter(): void {
    if (this.running) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        'the simulator is already running (autoRun, or a run call inside an event)',
      );
    }
    this.running = true;
  }

  private async loop(
    end: number,
    predicate: (() => boolean) | undefined,
    options: RunOptions,
  ): Promise<boolean> {
    this.enter();
    try {
      const settle = options.settle ?? this.settleDefault;
      const after = options.afterEvent;
      const every = Math.max(1, options.afterEventEvery ?? 1);
      let n = 0;
      if (settle) await settleTick();
      if (predicate?.()) return true;
      for (;;) {
        const ev = this.queue.popDue(end);
        if (ev === undefined) return false;
        if (!this.dispatch(ev)) continue;
        if (settle) await settleTick();
        if (after !== undefined && ++n % every === 0) after();
        if (predicate?.()) return true;
      }
    } finally {
      this.running = false;
    }
  }

  /** Delivers one event; returns false when it was held or dropped instead. */
  private dispatch(ev: SimEvent): boolean {
    const at = ev.at;
    if (at > this.time) this.time = at;
    if (ev.node >= 0) {
      const node = this.nodes[ev.node]!;
      if (ev.inc !== node.inc) {
        ev.sink?.discard?.(ev);
        return false;
      }
      if (node.state === PAUSED) {
        node.held.push(ev);
        return false;
      }
    }
    if (ev.sink?.hold?.(ev)) return false;
    if (at === this.lastAt) {
      if (++this.atInstant > this.limits.maxEventsAtOneInstant) {
        throw new CairnError(
          'LIMIT_EXCEEDED',
          `livelock: over maxEventsAtOneInstant=${this.limits.maxEventsAtOneInstant} events at virtual time ${at}`,
        );
      }
    } else {
      this.lastAt = at;
      this.atInstant = 0;
    }
    this.trace.mix(ev);
    if (this.trace.logging) {
      const sink = ev.sink;
      this.trace.record(sink?.describe?.(ev) ?? describeEvent(ev, this.nodeName(ev.node)));
    }
    const fn = ev.fn;
    if (fn !== null) {
      ev.fn = null;
      fn();
    } else {
      ev.sink?.handle(ev);
    }
    return true;
  }
}
