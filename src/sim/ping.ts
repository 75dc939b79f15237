import { performance } from 'node:perf_hooks';
import {
  CairnError,
  type Clock,
  decode,
  encode,
  type Infer,
  type Rng,
  type Seed,
  type TimerHandle,
  v,
} from '../core/index.js';
import type { Address, Transport } from '../transport/types.js';
import { type Latency, validateLatency } from './latency.js';
import { parseSeed } from './seed.js';
import { type SimNodeHandle, Simulator } from './simulator.js';

/** The ping protocol's messages: `Ping` asks for an `Ack` carrying the same sequence number. */
export const PingMessage = v.tagged('type', {
  ping: v.object({ type: v.literal('ping'), seq: v.uint() }),
  ack: v.object({ type: v.literal('ack'), seq: v.uint() }),
});

/** A decoded ping-protocol message. */
export type PingMessage = Infer<typeof PingMessage>;

/** Limits of the ping driver. */
export const PING_LIMITS = Object.freeze({
  /** Pings awaiting an ack per node: older ones are forgotten (their acks count as unexpected). */
  maxOutstandingPings: 8,
  /** Largest ping message accepted: both messages encode to under 20 bytes. */
  maxMessageBytes: 64,
});

/**
 * A small production-style driver: every `intervalMs` it pings a random peer over the packet
 * channel and answers every ping with an ack. Used by `cairn sim ping` and the swarm tests.
 *
 * Contract: a malformed packet is counted (`malformed`) and dropped, never thrown. An ack counts as
 * `acksReceived` only when it matches one of the node's last {@link PING_LIMITS.maxOutstandingPings}
 * pings; so `acksReceived <= pingsSent` always holds, even with duplication.
 */
export class PingNode implements SimNodeHandle {
  /** Pings sent. */
  pingsSent = 0;
  /** Acks that matched an outstanding ping. */
  acksReceived = 0;
  /** Acks that matched nothing (duplicates, late). */
  unexpectedAcks = 0;
  /** Pings answered. */
  pingsAnswered = 0;
  /** Packets that failed to decode or validate. */
  malformed = 0;
  /** Local time of the last matched ack, or -Infinity. */
  lastAckAt = Number.NEGATIVE_INFINITY;
  private seq = 0;
  private readonly outstanding: number[] = [];
  private timer: TimerHandle | undefined;
  private stopped = false;

  /**
   * @param transport - the node's transport
   * @param clock - the node's clock
   * @param rng - the node's random stream
   * @param peers - every node's address (shared, not copied)
   * @param self - this node's index in `peers`
   * @param intervalMs - time between pings
   */
  constructor(
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly peers: readonly Address[],
    private readonly self: number,
    private readonly intervalMs: number,
  ) {
    transport.onPacket((from, data) => this.receive(from, data));
  }

  /** Starts pinging, at a random offset within the first interval so nodes do not tick together. */
  start(): this {
    this.timer = this.clock.setTimer(this.rng.float() * this.intervalMs, () => this.tick());
    return this;
  }

  /** Stops pinging and closes the transport. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    await this.transport.close();
  }

  private tick(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.intervalMs, () => this.tick());
    const n = this.peers.length;
    if (n < 2) return;
    let target = this.rng.int(n - 1);
    if (target >= this.self) target++;
    const seq = this.seq++;
    this.outstanding.push(seq);
    if (this.outstanding.length > PING_LIMITS.maxOutstandingPings) this.outstanding.shift();
    this.pingsSent++;
    this.transport.sendPacket(this.peers[target]!, encode({ type: 'ping', seq }));
  }

  private receive(from: Address, data: Uint8Array): void {
    let msg: PingMessage;
    try {
      msg = decode(data, PingMessage, PING_LIMITS.maxMessageBytes);
    } catch {
      this.malformed++;
      return;
    }
    switch (msg.type) {
      case 'ping':
        this.pingsAnswered++;
        this.transport.sendPacket(from, encode({ type: 'ack', seq: msg.seq }));
        return;
      case 'ack': {
        const i = this.outstanding.indexOf(msg.seq);
        if (i < 0) {
          this.unexpectedAcks++;
          return;
        }
        this.outstanding.splice(i, 1);
        this.acksReceived++;
        this.lastAckAt = this.clock.now();
        return;
      }
    }
  }
}

/** Options of {@link addPingNodes}. */
export interface PingClusterOptions {
  /** Number of nodes (at least 1). */
  nodes: number;
  /** Time between one node's pings, in virtual ms; default 1,000. */
  intervalMs?: number;
}

/**
 * Adds `nodes` ping nodes named `n0`, `n1`, ... to `sim`, each at its default address.
 *
 * @returns the node names, in order
 */
export function addPingNodes(sim: Simulator, options: PingClusterOptions): string[] {
  const count = options.nodes;
  if (!Number.isSafeInteger(count) || count < 1)
    throw new CairnError('INVALID_ARGUMENT', `nodes must be a positive integer, got ${count}`);
  const intervalMs = options.intervalMs ?? 1_000;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new CairnError('INVALID_ARGUMENT', `intervalMs must be a positive number, got ${intervalMs}`);
  }
  const names: string[] = [];
  const peers: Address[] = [];
  for (let i = 0; i < count; i++) names.push(`n${i}`);
  for (let i = 0; i < count; i++) {
    const self = i;
    peers.push(
      sim.addNode(names[i]!, (ctx) =>
        new PingNode(ctx.transport(), ctx.clock, ctx.rng, peers, self, intervalMs).start(),
      ),
    );
  }
  return names;
}

/** Options of {@link runPingSim}. */
export interface PingSimOptions {
  /** Number of simulated nodes. */
  nodes: number;
  /** The seed; decimal strings are read as numbers (see `parseSeed`). */
  seed: Seed;
  /** Packet loss probability, 0..1; default 0. */
  loss?: number;
  /** Packet duplication probability, 0..1; default 0. */
  duplicate?: number;
  /** Link latency; default uniform 0.5..2 ms. */
  latency?: Latency;
  /** Virtual time to run, ms; default 10,000. */
  durationMs?: number;
  /** Time between one node's pings, ms; default 1,000. */
  intervalMs?: number;
  /** Settle promises after every event (slower; the drivers are synchronous); default false. */
  settle?: boolean;
  /** Keep this many trace log lines and return them as `trace`; default 0. */
  traceLog?: number;
}

/** The result of {@link runPingSim}; JSON-ready, snake_case as the CLI prints it. */
export interface PingSimResult {
  seed: Seed;
  nodes: number;
  loss: number;
  duplicate: number;
  interval_ms: number;
  trace_hash: string;
  messages_sent: number;
  messages_delivered: number;
  messages_dropped: number;
  dropped: Record<string, number>;
  pings: number;
  acks: number;
  unexpected_acks: number;
  events: number;
  virtual_ms: number;
  wall_ms: number;
  setup_ms: number;
  events_per_s: number;
  settle: boolean;
  trace?: string[];
}

/**
 * Runs `nodes` ping nodes on a simulated network for a fixed virtual time and reports what
 * happened. The same options give the same `trace_hash`; another seed gives another.
 *
 * @example
 * ```ts
 * const r = await runPingSim({ nodes: 1000, seed: 42, loss: 0.1 });
 * console.log(r.trace_hash, r.wall_ms);
 * ```
 */
export async function runPingSim(options: PingSimOptions): Promise<PingSimResult> {
  const seed = parseSeed(options.seed);
  const durationMs = options.durationMs ?? 10_000;
  if (!Number.isFinite(durationMs) || durationMs < 0) {
    throw new CairnError('INVALID_ARGUMENT', `durationMs must be >= 0, got ${durationMs}`);
  }
  const loss = options.loss ?? 0;
  const duplicate = options.duplicate ?? 0;
  const intervalMs = options.intervalMs ?? 1_000;
  const settle = options.settle ?? false;
  const started = performance.now();
  const sim = new Simulator({
    seed,
    settle,
    traceLog: options.traceLog ?? 0,
    network: {
      loss,
      duplicate,
      ...(options.latency === undefined ? {} : { latency: validateLatency(options.latency) }),
    },
  });
  const names = addPingNodes(sim, { nodes: options.nodes, intervalMs });
  const setupMs = performance.now() - started;
  await sim.runFor(durationMs);
  const wallMs = performance.now() - started;
  let pings = 0;
  let acks = 0;
  let unexpected = 0;
  for (const name of names) {
    const node = sim.handle<PingNode>(name)!;
    pings += node.pingsSent;
    acks += node.acksReceived;
    unexpected += node.unexpectedAcks;
  }
  const stats = sim.network.stats;
  const runMs = wallMs - setupMs;
  const result: PingSimResult = {
    seed,
    nodes: options.nodes,
    loss,
    duplicate,
    interval_ms: intervalMs,
    trace_hash: sim.traceHash(),
    messages_sent: stats.messagesSent,
    messages_delivered: stats.messagesDelivered,
    messages_dropped: stats.messagesDropped,
    dropped: Object.fromEntries(Object.entries(stats.dropped).filter(([, n]) => n > 0)),
    pings,
    acks,
    unexpected_acks: unexpected,
    events: sim.eventCount,
    virtual_ms: sim.elapsedMs,
    wall_ms: Math.round(wallMs * 10) / 10,
    setup_ms: Math.round(setupMs * 10) / 10,
    events_per_s: runMs > 0 ? Math.round((sim.eventCount / runMs) * 1000) : 0,
    settle,
  };
  if ((options.traceLog ?? 0) > 0) result.trace = sim.traceLines();
  return result;
}
