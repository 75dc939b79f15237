/**
 * Consistent-store benchmark, Cairn against etcd in the same run:
 * `npm run bench -- store [--json] [--clients 100] [--connections 10] [--seconds 10] [--warmup 10]
 *  [--workers 2] [--keys 10000] [--value-bytes 32] [--etcd run|skip] [--cairn run|skip]`.
 *
 * Each store is a 3-member cluster on loopback driven through the etcd v3 gRPC API by `--clients`
 * concurrent clients (each one request at a time) over `--connections` TCP connections spread
 * round-robin over the members, from `--workers` load threads (`bench/_store-load.ts`). Phases of
 * `--seconds` each, in order: puts of random keys among `--keys`; linearizable gets; serializable
 * gets; puts under `watch/` while one watcher on that prefix (on the last member) measures
 * delivery: put invoke (its time travels in the value) to event arrival. Before them, `--warmup`
 * seconds of unmeasured puts (half, under a watcher on their prefix on the last member) and
 * linearizable and serializable gets (a quarter each) on each store alike (0: none), so the
 * figures are steady-state ones rather than a fresh agent's first seconds: a profile of the
 * members found V8 still compiling the put path (about a fifth of a put's CPU on its background
 * threads) after 2 s of warm-up, and without a watcher in the warm-up the watch phase's first
 * half second met the watcher's member compiling its watch delivery (events of 100-280 ms there,
 * at most 40-80 ms after it). Reported per phase:
 * requests/s, p50/p99 latency, errors, the bench process's CPU (all load threads) and the
 * servers' CPU (from /proc), and the busiest load thread's event-loop utilization: near 1.0, the
 * load generator saturated and the figure measures the client, not the store.
 *
 * Cairn's cluster comes from `startCairnStore()` (`bench/_cairn-store.ts`); until the agent's store
 * role exists it is unavailable and the result says so (`cairn: "unavailable: ..."`). etcd's comes
 * from `bench/_etcd.ts` when an `etcd` binary is in PATH (Debian's etcd 3.4 is), default settings.
 * Ratios are Cairn's figure over etcd's (above 1 is better for rates, below 1 for latencies).
 * Measures; never fails on a time.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { intOption } from './_args.js';
import { CairnStoreUnavailable, startCairnStore } from './_cairn-store.js';
import { etcdVersion, startEtcdCluster } from './_etcd.js';
import { type LoadFigures, type LoadOptions, runLoad } from './_store-load.js';

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      clients: { type: 'string', default: '100' },
      connections: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '10' },
      workers: { type: 'string', default: '2' },
      keys: { type: 'string', default: '10000' },
      'value-bytes': { type: 'string', default: '32' },
      etcd: { type: 'string', default: 'run' },
      cairn: { type: 'string', default: 'run' },
    },
  });
  for (const flag of ['etcd', 'cairn'] as const) {
    if (values[flag] !== 'run' && values[flag] !== 'skip') throw new Error(`--${flag} must be run or skip`);
  }
  const load: LoadOptions = {
    clients: intOption('clients', values.clients, 1, 10_000),
    connections: intOption('connections', values.connections, 1, 1_000),
    seconds: intOption('seconds', values.seconds, 1, 3_600),
    warmupSeconds: intOption('warmup', values.warmup, 0, 3_600),
    workers: intOption('workers', values.workers, 1, 16),
    keys: intOption('keys', values.keys, 1, 10_000_000),
    // The watch phase writes its invoke time (about 17 characters) into the value.
    valueBytes: Math.max(24, intOption('value-bytes', values['value-bytes'], 1, 1 << 20)),
    requestDeadlineMs: 10_000,
  };
  if (load.connections < load.workers) throw new Error('--connections must be at least --workers');
  return { load, json: values.json, etcd: values.etcd === 'run', cairn: values.cairn === 'run' };
}

type Side = LoadFigures | string;

async function runCairn(load: LoadOptions): Promise<Side> {
  let store: Awaited<ReturnType<typeof startCairnStore>>;
  try {
    store = await startCairnStore();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log(`cairn: unavailable (${reason})`);
    return `unavailable: ${err instanceof CairnStoreUnavailable ? reason : `start failed: ${reason}`}`;
  }
  try {
    log(`cairn: 3 members at ${store.endpoints.join(' ')}`);
    return await runLoad(store.endpoints, store.pids ?? [], load, log);
  } finally {
    await store.stop();
  }
}

async function runEtcd(load: LoadOptions): Promise<Side> {
  if (etcdVersion() === undefined) {
    log('etcd: not run (no etcd binary in PATH; Debian: apt-get install etcd-server)');
    return 'not run: etcd binary not found';
  }
  const cluster = await startEtcdCluster(3);
  try {
    log(`etcd ${cluster.version}: 3 members at ${cluster.endpoints.join(' ')}`);
    return await runLoad(cluster.endpoints, cluster.pids, load, log);
  } finally {
    await cluster.stop();
  }
}

/** Cairn over etcd for every figure of every phase both measured. */
function ratios(cairn: LoadFigures, etcd: LoadFigures): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const phase of Object.keys(etcd) as (keyof LoadFigures)[]) {
    const a = cairn[phase] as unknown as Record<string, unknown>;
    const b = etcd[phase] as unknown as Record<string, unknown>;
    const r: Record<string, number> = {};
    for (const k of ['ops_per_s', 'p50_ms', 'p99_ms', 'event_p99_ms']) {
      const x = a[k];
      const y = b[k];
      if (typeof x === 'number' && typeof y === 'number' && y > 0) r[k] = Math.round((x / y) * 100) / 100;
    }
    out[phase] = r;
  }
  return out;
}

function table(name: string, side: Side): string {
  if (typeof side === 'string') return `${name}: ${side}`;
  const row = (
    label: string,
    f: { ops_per_s: number; p50_ms: number; p99_ms: number; client_worker_elu_max: number },
  ) =>
    `  ${label.padEnd(20)} ${String(f.ops_per_s).padStart(8)}/s  p50 ${String(f.p50_ms).padStart(7)} ms  ` +
    `p99 ${String(f.p99_ms).padStart(7)} ms  load-thread ELU ${f.client_worker_elu_max}`;
  return [
    `${name}:`,
    row('put', side.put),
    row('get linearizable', side.get_linearizable),
    row('get serializable', side.get_serializable),
    `  watch delivery       p50 ${side.watch.event_p50_ms} ms  p99 ${side.watch.event_p99_ms} ms  ` +
      `(${side.watch.events} events, ${side.watch.events_missing} missing)`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<object> {
  const o = parseOptions(argv);
  const machine = { cores: availableParallelism(), loadavg_1m: Math.round(loadavg()[0]! * 100) / 100 };
  const cairn: Side = o.cairn ? await runCairn(o.load) : 'not run: --cairn skip';
  const etcd: Side = o.etcd ? await runEtcd(o.load) : 'not run: --etcd skip';
  const both = typeof cairn !== 'string' && typeof etcd !== 'string';
  if (!both) log('ratios: not computed (needs both stores measured in this run)');
  if (!o.json) log(`\n${table('cairn', cairn)}\n${table(`etcd ${etcdVersion() ?? ''}`.trim(), etcd)}`);
  return {
    options: { ...o.load, etcd_version: etcdVersion() ?? null },
    machine,
    cairn,
    etcd,
    ratios_cairn_over_etcd: both ? ratios(cairn, etcd) : null,
  };
}
