/**
 * Drives a 3-member etcd-API store with the store bench's load: worker threads own the
 * connections and clients; the main thread runs the phases, holds the watcher, and measures the
 * client's own CPU and the servers' (from /proc) so a saturated load generator shows.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { processCpuMs } from './_etcd.js';
import { type WatchResponse, watchClient } from './_store-grpc.js';
import type { PhaseReport, PhaseSpec, WorkerSetup } from './_store-worker.js';

/** The load's shape. */
export interface LoadOptions {
  readonly clients: number;
  readonly connections: number;
  readonly seconds: number;
  /** Seconds of unmeasured puts before the phases (0: none); every store gets the same. */
  readonly warmupSeconds: number;
  readonly workers: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly requestDeadlineMs: number;
}

/** One phase's figures. */
export interface PhaseFigures {
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
  first_error?: string;
  /** CPU of this bench process (all load threads) / wall time: 1.0 is one core busy. */
  client_cpu_cores: number;
  /** CPU of the server processes / wall time, when their pids are known. */
  server_cpu_cores: number | null;
  /** The busiest load worker's event-loop utilization: near 1, the client was the bottleneck. */
  client_worker_elu_max: number;
}

/** Watch delivery: put invoke (time carried in the value) to event arrival at one watcher. */
export interface WatchFigures extends PhaseFigures {
  events: number;
  event_p50_ms: number;
  event_p99_ms: number;
  /** Acknowledged puts whose event had not arrived by the end of the drain. */
  events_missing: number;
}

/** Figures for one store. */
export interface LoadFigures {
  put: PhaseFigures;
  get_linearizable: PhaseFigures;
  get_serializable: PhaseFigures;
  watch: WatchFigures;
}

/** After the watch phase's puts end, how long the watcher may take to receive the last events. */
const WATCH_DRAIN_MS = 3_000;
/** How long a worker may take to start (load the protos) before the bench gives up. */
const WORKER_START_MS = 30_000;

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

class LoadWorker {
  private readonly worker: Worker;
  private pending: { resolve: (r: PhaseReport) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;

  private constructor(setup: WorkerSetup) {
    // Node 20 does not apply the parent's module hooks (tsx) to a worker's entry file: the worker
    // registers tsx itself, then imports the TypeScript entry.
    const entry = new URL('./_store-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    this.worker = new Worker(boot, { eval: true, workerData: setup });
    this.worker.on('message', (m: PhaseReport | 'ready') => {
      if (m !== 'ready') this.pending?.resolve(m);
    });
    this.worker.on('error', (err: Error) => {
      this.failed = err;
      this.pending?.reject(err);
    });
  }

  static async start(setup: WorkerSetup): Promise<LoadWorker> {
    const w = new LoadWorker(setup);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(w.failed ?? new Error('load worker did not start')),
        WORKER_START_MS,
      );
      w.worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      w.worker.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return w;
  }

  run(phase: PhaseSpec): Promise<PhaseReport> {
    return new Promise((resolve, reject) => {
      if (this.failed !== undefined) return reject(this.failed);
      this.pending = { resolve, reject };
      this.worker.postMessage({ cmd: 'phase', phase });
    });
  }

  async close(): Promise<void> {
    if (this.failed !== undefined) {
      await this.worker.terminate();
      return;
    }
    this.worker.postMessage({ cmd: 'close' });
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}

/** Splits connections and clients over workers: connection c goes to endpoint c % endpoints. */
function plan(endpoints: readonly string[], o: LoadOptions): WorkerSetup[] {
  const setups: { connections: string[]; clients: number }[] = Array.from({ length: o.workers }, () => ({
    connections: [],
    clients: 0,
  }));
  for (let c = 0; c < o.connections; c++)
    setups[c % o.workers]!.connections.push(endpoints[c % endpoints.length]!);
  for (let i = 0; i < o.clients; i++) setups[i % o.workers]!.clients++;
  return setups.map((s) => ({ ...s, requestDeadlineMs: o.requestDeadlineMs }));
}

async function measure(
  workers: readonly LoadWorker[],
  phase: Omit<PhaseSpec, 'seed'>,
  serverPids: readonly number[],
): Promise<PhaseFigures> {
  const serverCpu0 = serverPids.reduce((s, pid) => s + processCpuMs(pid), 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const reports = await Promise.all(workers.map((w, i) => w.run({ ...phase, seed: 0x9e3779b9 * (i + 1) })));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = serverPids.reduce((s, pid) => s + processCpuMs(pid), 0) - serverCpu0;
  const all = new Float64Array(reports.reduce((n, r) => n + r.latenciesMs.length, 0));
  let at = 0;
  for (const r of reports) {
    all.set(r.latenciesMs, at);
    at += r.latenciesMs.length;
  }
  all.sort();
  const firstError = reports.find((r) => r.firstError !== undefined)?.firstError;
  return {
    ops_per_s: Math.round((all.length * 1000) / wall),
    p50_ms: round(percentile(all, 50)),
    p99_ms: round(percentile(all, 99)),
    requests: all.length,
    errors: reports.reduce((n, r) => n + r.errors, 0),
    ...(firstError === undefined ? {} : { first_error: firstError }),
    client_cpu_cores: round((cpu.user + cpu.system) / 1000 / wall),
    server_cpu_cores: serverPids.length === 0 ? null : round(serverCpu / wall),
    client_worker_elu_max: round(Math.max(...reports.map((r) => r.eventLoopUtilization))),
  };
}

/** Opens a watcher on `prefix` and resolves once the server confirmed it. */
async function openWatch(endpoint: string, prefix: string, onEvent: (valueText: string, at: number) => void) {
  const client = watchClient(endpoint);
  const stream = client.Watch();
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  await new Promise<void>((resolve, reject) => {
    stream.on('error', (err: Error) => {
      if (!/Cancelled/.test(err.message)) reject(err);
    });
    stream.on('data', (res: WatchResponse) => {
      const at = performance.timeOrigin + performance.now();
      if (res.created === true) resolve();
      if (res.canceled === true) reject(new Error(`watch canceled: ${res.cancel_reason ?? ''}`));
      for (const ev of res.events ?? []) if (ev.kv !== undefined) onEvent(ev.kv.value.toString(), at);
    });
    stream.write({ create_request: { key: Buffer.from(prefix), range_end: end } });
  });
  return () => {
    stream.cancel();
    client.close();
  };
}

async function watchPhase(
  endpoints: readonly string[],
  workers: readonly LoadWorker[],
  o: LoadOptions,
  serverPids: readonly number[],
  log: (line: string) => void,
): Promise<WatchFigures> {
  const delays: number[] = [];
  // The watcher sits on the last member: with the default leader elsewhere, events cross raft.
  const close = await openWatch(endpoints[endpoints.length - 1]!, 'watch/', (text, at) => {
    delays.push(at - Number.parseFloat(text));
  });
  const puts = await measure(
    workers,
    {
      kind: 'watchPut',
      durationMs: o.seconds * 1000,
      keyPrefix: 'watch/',
      keys: o.keys,
      valueBytes: o.valueBytes,
    },
    serverPids,
  );
  const drainEnd = performance.now() + WATCH_DRAIN_MS;
  while (delays.length < puts.requests && performance.now() < drainEnd) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  close();
  const sorted = Float64Array.from(delays).sort();
  log(`  watch: ${sorted.length} events for ${puts.requests} acknowledged puts`);
  return {
    ...puts,
    events: sorted.length,
    event_p50_ms: round(percentile(sorted, 50)),
    event_p99_ms: round(percentile(sorted, 99)),
    events_missing: Math.max(0, puts.requests - sorted.length),
  };
}

/**
 * Runs the four phases against `endpoints` in order: puts (which also fill the key space),
 * linearizable gets, serializable gets, then puts under a prefix watcher; first, when
 * `warmupSeconds` is set, unmeasured puts (under a watcher) and gets for that long (a fresh agent
 * compiles its hot paths as it runs: the figures are meant to be steady-state ones).
 */
export async function runLoad(
  endpoints: readonly string[],
  serverPids: readonly number[],
  o: LoadOptions,
  log: (line: string) => void,
): Promise<LoadFigures> {
  const started = await Promise.allSettled(plan(endpoints, o).map((s) => LoadWorker.start(s)));
  const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = started.find((r) => r.status === 'rejected');
  try {
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    const base = {
      durationMs: o.seconds * 1000,
      keyPrefix: 'bench/',
      keys: o.keys,
      valueBytes: o.valueBytes,
    };
    if (o.warmupSeconds > 0) {
      // Every measured kind runs in the warm-up, so each phase meets compiled code: half of it
      // puts (they also fill the key space) under a watcher on their prefix where the watch
      // phase's watcher sits (the member's watch delivery path runs too), a quarter each kind
      // of get.
      const ms = o.warmupSeconds * 1000;
      const closeWarmupWatch = await openWatch(endpoints[endpoints.length - 1]!, 'bench/', () => {});
      try {
        await measure(workers, { ...base, kind: 'put', durationMs: ms / 2 }, serverPids);
      } finally {
        closeWarmupWatch();
      }
      await measure(workers, { ...base, kind: 'getLinearizable', durationMs: ms / 4 }, serverPids);
      await measure(workers, { ...base, kind: 'getSerializable', durationMs: ms / 4 }, serverPids);
      log(`  warm-up: ${o.warmupSeconds} s of puts (watched) and gets, not measured`);
    }
    const put = await measure(workers, { ...base, kind: 'put' }, serverPids);
    log(`  put: ${put.ops_per_s}/s p50 ${put.p50_ms} ms p99 ${put.p99_ms} ms`);
    const getLinearizable = await measure(workers, { ...base, kind: 'getLinearizable' }, serverPids);
    log(`  get (linearizable): ${getLinearizable.ops_per_s}/s p99 ${getLinearizable.p99_ms} ms`);
    const getSerializable = await measure(workers, { ...base, kind: 'getSerializable' }, serverPids);
    log(`  get (serializable): ${getSerializable.ops_per_s}/s p99 ${getSerializable.p99_ms} ms`);
    const watch = await watchPhase(endpoints, workers, o, serverPids, log);
    log(`  watch: event p99 ${watch.event_p99_ms} ms`);
    return { put, get_linearizable: getLinearizable, get_serializable: getSerializable, watch };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}
