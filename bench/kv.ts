/**
 * Partitioned-store benchmark, Cairn against Redis in the same run:
 * `npm run bench -- kv [--json] [--requests 50000] [--clients 50] [--pipeline 16] [--keyspace 100000]
 *  [--warmup 20000] [--targets one,three,redis] [--sync default|true|false]`.
 *
 * `redis-benchmark -t set -c <clients> -n <requests> -r <keyspace> --csv`, then `-t get`, then both
 * again with `-P <pipeline>`, against each target in turn, each target first warmed up by an
 * unmeasured `-t set,get` run of `--warmup` requests (0 skips it). Every target gets the same
 * warm-up, Redis too: the figures are steady-state ones, not the first seconds of a fresh process
 * (Cairn's agents compile their hot paths as they run, and a fresh LevelDB starts empty).
 * - `one`: one Cairn node (`cairn dev --nodes 1 --roles membership,kv`, rf 1);
 * - `three`: three Cairn nodes (`cairn dev --nodes 3 --roles membership,kv`, rf 3), reads and
 *   writes at QUORUM (the default levels), redis-benchmark connected to the first node, which
 *   coordinates every request (redis-benchmark speaks to one address);
 * - `redis`: `redis-server` started here on a free port with `--save '' --appendonly no`.
 * Reported per target, mode (plain, pipelined) and test (SET, GET): requests/s, p50 and p99
 * latency (ms, from redis-benchmark's CSV), the servers' CPU per request (user + system of every
 * server process, from /proc: on a shared machine it moves less than requests/s), and the ratios
 * Cairn/Redis of requests/s. The issue's
 * goals, for the note and never asserted: one node >= 0.5x Redis, three nodes at QUORUM >= 0.3x.
 *
 * `--keyspace` spreads keys over that many random names (redis-benchmark's `-r`; 0: the one key
 * `key:__rand_int__`, which on Cairn serializes every write of the run on one key's replicas).
 * `--sync` sets the agents' `kv.sync` (fsync per storage batch; the agent's default is on). Redis
 * here fsyncs nothing, so `--sync false` is the like-for-like durability comparison; the default
 * run reports Cairn as configured out of the box.
 *
 * Missing `redis-benchmark` makes every figure unavailable; missing `redis-server` only Redis's
 * (the result says which). Measures; never fails on a time.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { intOption } from './_args.js';
import { CairnKvUnavailable, startCairnKv } from './_cairn-kv.js';
import { processCpuMs } from './_etcd.js';

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Longest one redis-benchmark run may take before it is stopped (its figures are then missing). */
const RUN_TIMEOUT_MS = 10 * 60_000;

type TargetName = 'one' | 'three' | 'redis';
const TARGETS: readonly TargetName[] = ['one', 'three', 'redis'];

interface Figures {
  /** Requests per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * The servers' CPU (user + system, every server process: three for the three-node target) per
   * request in microseconds, from /proc; less swayed by other load on the machine than req/s.
   */
  serverCpuUsPerRequest?: number;
}

/** SET and GET figures of one redis-benchmark run. */
type RunFigures = { SET?: Figures; GET?: Figures } | string;

interface TargetResult {
  /** Plain (one request in flight per client) and pipelined runs, or why the target did not run. */
  plain?: RunFigures;
  pipelined?: RunFigures;
  unavailable?: string;
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      requests: { type: 'string', default: '50000' },
      clients: { type: 'string', default: '50' },
      pipeline: { type: 'string', default: '16' },
      keyspace: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '20000' },
      targets: { type: 'string', default: TARGETS.join(',') },
      sync: { type: 'string', default: 'default' },
    },
  });
  const targets = values.targets.split(',').map((t) => t.trim());
  for (const t of targets)
    if (!TARGETS.includes(t as TargetName))
      throw new Error(`--targets: '${t}' is not one of ${TARGETS.join(', ')}`);
  if (!['default', 'true', 'false'].includes(values.sync))
    throw new Error('--sync must be default, true or false');
  return {
    json: values.json,
    requests: intOption('requests', values.requests, 1, 100_000_000),
    clients: intOption('clients', values.clients, 1, 10_000),
    pipeline: intOption('pipeline', values.pipeline, 1, 1_000),
    keyspace: intOption('keyspace', values.keyspace, 0, 1_000_000_000),
    warmup: intOption('warmup', values.warmup, 0, 100_000_000),
    targets: targets as TargetName[],
    sync: values.sync === 'default' ? undefined : values.sync === 'true',
  };
}

type Options = ReturnType<typeof parseOptions>;

/** Why `command --version` cannot run, or undefined when it can. */
function missing(command: string, pkg: string): string | undefined {
  const r = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${command} is not installed (Debian package ${pkg})`;
}

/** Parses redis-benchmark's `--csv` output: a header line, then one line per test. */
export function parseCsv(text: string): { SET?: Figures; GET?: Figures } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'));
  const header = lines[0]?.split(',').map((c) => c.replace(/"/g, ''));
  if (header === undefined) return {};
  const col = (name: string) => header.indexOf(name);
  const out: { SET?: Figures; GET?: Figures } = {};
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    const test = cells[col('test')];
    if (test !== 'SET' && test !== 'GET') continue;
    const rps = Number(cells[col('rps')]);
    const p50Ms = Number(cells[col('p50_latency_ms')]);
    const p99Ms = Number(cells[col('p99_latency_ms')]);
    if ([rps, p50Ms, p99Ms].every(Number.isFinite)) out[test] = { rps, p50Ms, p99Ms };
  }
  return out;
}

/** One redis-benchmark invocation of `tests` (`set,get`, `set` or `get`). */
function redisBenchmark(
  endpoint: string,
  options: Options,
  pipeline: number,
  requests: number,
  tests: string,
): Promise<RunFigures> {
  const sep = endpoint.lastIndexOf(':');
  const args = [
    '-h',
    endpoint.slice(0, sep),
    '-p',
    endpoint.slice(sep + 1),
    '-t',
    tests,
    '-c',
    String(options.clients),
    '-n',
    String(requests),
    '--csv',
  ];
  if (options.keyspace > 0) args.push('-r', String(options.keyspace));
  if (pipeline > 1) args.push('-P', String(pipeline));
  log(`  redis-benchmark ${args.join(' ')}`);
  return new Promise((resolve) => {
    execFile(
      'redis-benchmark',
      args,
      { timeout: RUN_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const figures = parseCsv(stdout);
        if (figures.SET === undefined && figures.GET === undefined)
          resolve(
            `redis-benchmark gave no figures${err ? `: ${err.message}` : ''} ${stderr.slice(-300)}`.trim(),
          );
        else resolve(figures);
      },
    );
  });
}

/**
 * SET, then GET, each its own redis-benchmark run so the servers' CPU (user + system of `pids`,
 * from /proc) is counted per test: `serverCpuUsPerRequest`.
 */
async function benchmark(
  endpoint: string,
  options: Options,
  pipeline: number,
  pids: readonly number[],
): Promise<RunFigures> {
  const out: { SET?: Figures; GET?: Figures } = {};
  for (const test of ['SET', 'GET'] as const) {
    const cpu0 = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
    const run = await redisBenchmark(endpoint, options, pipeline, options.requests, test.toLowerCase());
    const cpuMs = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) - cpu0;
    if (typeof run === 'string') return run;
    const figures = run[test];
    if (figures === undefined) continue;
    out[test] =
      pids.length === 0
        ? figures
        : { ...figures, serverCpuUsPerRequest: Math.round((cpuMs * 1000 * 10) / options.requests) / 10 };
  }
  return out;
}

async function runBoth(endpoint: string, options: Options, pids: readonly number[]): Promise<TargetResult> {
  if (options.warmup > 0) {
    log('  (warm-up, not measured)');
    const warm = await redisBenchmark(endpoint, options, 1, options.warmup, 'set,get');
    if (typeof warm === 'string') return { plain: warm, pipelined: warm };
  }
  const plain = await benchmark(endpoint, options, 1, pids);
  const pipelined = await benchmark(endpoint, options, options.pipeline, pids);
  return { plain, pipelined };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function runRedis(options: Options): Promise<TargetResult> {
  const absent = missing('redis-server', 'redis-server');
  if (absent !== undefined) return { unavailable: absent };
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  try {
    // Wait (bounded: 100 tries, 50 ms apart) until it answers PING.
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up =
        spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) return { unavailable: `redis-server on port ${port} did not answer PING` };
    return await runBoth(`127.0.0.1:${port}`, options, child.pid === undefined ? [] : [child.pid]);
  } finally {
    child.kill('SIGTERM');
  }
}

async function runCairn(nodes: number, options: Options): Promise<TargetResult> {
  let cluster: Awaited<ReturnType<typeof startCairnKv>>;
  try {
    cluster = await startCairnKv(options.sync === undefined ? { nodes } : { nodes, sync: options.sync });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { unavailable: err instanceof CairnKvUnavailable ? reason : `start failed: ${reason}` };
  }
  try {
    return await runBoth(cluster.endpoints[0]!, options, cluster.pids);
  } finally {
    await cluster.stop();
  }
}

function ratio(
  a: RunFigures | undefined,
  b: RunFigures | undefined,
  test: 'SET' | 'GET',
): number | undefined {
  if (a === undefined || b === undefined || typeof a === 'string' || typeof b === 'string') return undefined;
  const x = a[test]?.rps;
  const y = b[test]?.rps;
  return x === undefined || y === undefined || y === 0 ? undefined : Math.round((x / y) * 1000) / 1000;
}

function table(results: Partial<Record<TargetName, TargetResult>>): string {
  const rows = ['target  mode       test   req/s      p50 ms   p99 ms   cpu us/req'];
  for (const [name, r] of Object.entries(results)) {
    if (r.unavailable !== undefined) {
      rows.push(`${name.padEnd(8)}unavailable: ${r.unavailable}`);
      continue;
    }
    for (const mode of ['plain', 'pipelined'] as const) {
      const f = r[mode];
      if (typeof f === 'string' || f === undefined) {
        rows.push(`${name.padEnd(8)}${mode.padEnd(11)}${f ?? 'missing'}`);
        continue;
      }
      for (const test of ['SET', 'GET'] as const) {
        const x = f[test];
        if (x === undefined) continue;
        rows.push(
          `${name.padEnd(8)}${mode.padEnd(11)}${test.padEnd(7)}${x.rps.toFixed(0).padEnd(11)}${x.p50Ms.toFixed(2).padEnd(9)}${x.p99Ms.toFixed(2).padEnd(9)}${x.serverCpuUsPerRequest ?? '-'}`,
        );
      }
    }
  }
  return rows.join('\n');
}

export async function main(argv: string[]): Promise<object> {
  const options = parseOptions(argv);
  const noBenchmark = missing('redis-benchmark', 'redis-tools');
  if (noBenchmark !== undefined) {
    log(`kv bench: ${noBenchmark}; nothing measured`);
    return { unavailable: noBenchmark };
  }
  const results: Partial<Record<TargetName, TargetResult>> = {};
  for (const target of options.targets) {
    log(`kv bench: ${target}`);
    results[target] =
      target === 'redis' ? await runRedis(options) : await runCairn(target === 'one' ? 1 : 3, options);
  }
  const ratios: Record<string, number | undefined> = {};
  for (const target of ['one', 'three'] as const)
    for (const mode of ['plain', 'pipelined'] as const)
      for (const test of ['SET', 'GET'] as const)
        ratios[`${target}/redis ${mode} ${test}`] = ratio(
          results[target]?.[mode],
          results.redis?.[mode],
          test,
        );
  if (!options.json) {
    log(table(results));
    log('ratios (Cairn req/s over Redis req/s; goals: one >= 0.5, three >= 0.3):');
    for (const [k, v] of Object.entries(ratios)) log(`  ${k}: ${v ?? 'n/a'}`);
  }
  return {
    settings: {
      requests: options.requests,
      clients: options.clients,
      pipeline: options.pipeline,
      keyspace: options.keyspace,
      warmup: options.warmup,
      sync: options.sync ?? 'agent default',
    },
    results,
    ratios,
    goals: { oneNodeOverRedis: 0.5, threeNodesQuorumOverRedis: 0.3 },
  };
}
