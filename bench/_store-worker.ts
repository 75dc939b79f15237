/**
 * A load-generating worker thread of the store bench: it owns some of the connections and the
 * clients bound to them, runs one phase at a time on request, and posts back latencies.
 * Message protocol (parent -> worker): `{ cmd: 'phase', phase }` then `{ cmd: 'close' }`.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { encodePutRequest, encodeRangeRequest } from './_store-grpc.js';
import { H2KvClient } from './_store-h2.js';

/** What the parent sends this worker at start. */
export interface WorkerSetup {
  /** One endpoint per connection this worker owns. */
  readonly connections: string[];
  /** Clients this worker runs; client i uses connection i % connections.length. */
  readonly clients: number;
  /** Per-request deadline: a request past it counts as an error. */
  readonly requestDeadlineMs: number;
}

/** One measured phase. */
export interface PhaseSpec {
  readonly kind: 'put' | 'getLinearizable' | 'getSerializable' | 'watchPut';
  readonly durationMs: number;
  /** Keys are `${keyPrefix}${n}` for n in [0, keys). */
  readonly keyPrefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  /** Per-worker seed for key choice (a benchmark, not a test: any spread will do). */
  readonly seed: number;
}

/** What a worker reports after a phase. */
export interface PhaseReport {
  /** Latency of each completed request, ms. */
  readonly latenciesMs: Float64Array;
  readonly errors: number;
  readonly firstError?: string;
  /** Event-loop utilization of this worker during the phase: near 1 means the client saturated. */
  readonly eventLoopUtilization: number;
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error('bench/_store-worker.ts must run as a worker thread');
const conns = setup.connections.map((e) => new H2KvClient(e));

/** xorshift32: cheap key choice, no allocation. */
function keyChooser(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function request(conn: H2KvClient, phase: PhaseSpec, key: Buffer, value: Buffer): Promise<Buffer> {
  const deadline = setup.requestDeadlineMs;
  switch (phase.kind) {
    case 'put':
      return conn.put(encodePutRequest(key, value), deadline);
    case 'watchPut': {
      // The value carries the invoke time, so the watcher measures invoke-to-event latency.
      const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
      return conn.put(encodePutRequest(key, Buffer.from(stamp.padEnd(phase.valueBytes, ' '))), deadline);
    }
    case 'getLinearizable':
      return conn.range(encodeRangeRequest(key, false), deadline);
    case 'getSerializable':
      return conn.range(encodeRangeRequest(key, true), deadline);
  }
}

async function runPhase(phase: PhaseSpec): Promise<PhaseReport> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const next = keyChooser(phase.seed);
  const elu0 = performance.eventLoopUtilization();
  const end = performance.now() + phase.durationMs;
  const value = Buffer.alloc(phase.valueBytes, 120);
  const client = async (i: number) => {
    const conn = conns[i % conns.length]!;
    while (performance.now() < end) {
      const key = Buffer.from(`${phase.keyPrefix}${next() % phase.keys}`);
      const t0 = performance.now();
      try {
        await request(conn, phase, key, value);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: setup.clients }, (_, i) => client(i)));
  const elu = performance.eventLoopUtilization(elu0).utilization;
  return {
    latenciesMs: Float64Array.from(latencies),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    eventLoopUtilization: elu,
  };
}

port.on('message', (msg: { cmd: 'phase'; phase: PhaseSpec } | { cmd: 'close' }) => {
  if (msg.cmd === 'close') {
    for (const c of conns) c.close();
    port.close();
    return;
  }
  void runPhase(msg.phase).then((report) =>
    port.postMessage(report, [report.latenciesMs.buffer as ArrayBuffer]),
  );
});
port.postMessage('ready');
