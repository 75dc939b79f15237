/**
 * Partitioned-store benchmark, Cairn against Redis in the same run:
 * `npm run bench -- kv [--json] [--requests 50000] [--clients 50] [--pipeline 16] [--keyspace 100000]
 *  [--warmup 20000] [--rounds 3] [--targets one,three,redis] [--sync default|true|false]`.
 *
 * Every target is started first and stays up for the whole run; each is warmed up by an
 * unmeasured `redis-benchmark -t set,get` run of `--warmup` requests (0 skips it), Redis too: the
 * figures are steady-state ones, not the first seconds of a fresh process (Cairn's agents compile
 * their hot paths as they run, and a fresh LevelDB starts empty). Then `--rounds` rounds: in each,
 * for plain mode then pipelined (`-P <pipeline>`), SET then GET, every target in turn runs
 * `redis-benchmark -t <test> -c <clients> -n <requests> -r <keyspace> --csv`, the order of the
 * targets turning by one each round. A Cairn figure and the Redis figure it is divided by are so
 * taken seconds apart, in every round: on a shared or virtual machine whose speed drifts by tens
 * of percent within a minute, one run of each target after the other compares the machine's
 * moments rather than the servers. While one target is measured the others are stopped (SIGSTOP,
 * then SIGCONT and a short settling pause before their turn), so an idle cluster's gossip and
 * timers take nothing from the one measured.
 * - `one`: one Cairn node (`cairn dev --nodes 1 --roles membership,kv`, rf 1);
 * - `three`: three Cairn nodes (`cairn dev --nodes 3 --roles membership,kv`, rf 3), reads and
 *   writes at QUORUM (the default levels), redis-benchmark connected to the first node, which
 *   coordinates every request (redis-benchmark speaks to one address);
 * - `redis`: `redis-server` started here on a free port with `--save '' --appendonly no`.
 * Reported per target, mode (plain, pipelined) and test (SET, GET): the median over the rounds of
 * requests/s, p50 and p99 latency (ms, from redis-benchmark's CSV) and the servers' CPU per
 * request (user + system of every server process, from /proc: on a shared machine it moves less
 * than requests/s), with each round's requests/s; and the ratios Cairn/Redis of requests/s: the
 * median of the rounds' ratios, with each round's. The issue's goals, for the note and never
 * asserted: one node >= 0.5x Redis, three nodes at QUORUM >= 0.3x.
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

/** The medians over the rounds, and each round's requests/s. */
interface RoundedFigures extends Figures {
  rpsRounds: number[];
}

/** SET and GET figures of a mode (medians over the rounds), or why the mode has none. */
type RunFigures = { SET?: RoundedFigures; GET?: RoundedFigures } | string;

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
      rounds: { type: 'string', default: '3' },
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
    rounds: intOption('rounds', values.rounds, 1, 100),
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
): Promise<{ SET?: Figures; GET?: Figures } | string> {
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

/** A target up for the whole run. */
interface Target {
  readonly endpoint: string;
  /** The server processes whose CPU is counted (and which are stopped while others are measured). */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** How long a target resumed from SIGSTOP runs before it is measured: its overdue timers fire. */
const SETTLE_MS = 300;

/** Sends `signal` to every process of `target` (one that has exited is skipped). */
function signalAll(target: Target, signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of target.pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone: its figures will say so.
    }
  }
}

/**
 * One redis-benchmark run of `test`, with the servers' CPU (user + system of `pids`, from /proc)
 * per request: `serverCpuUsPerRequest`.
 */
async function measure(
  target: Target,
  options: Options,
  pipeline: number,
  test: 'SET' | 'GET',
): Promise<Figures | string> {
  const { pids } = target;
  const cpu0 = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const run = await redisBenchmark(target.endpoint, options, pipeline, options.requests, test.toLowerCase());
  const cpuMs = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) - cpu0;
  if (typeof run === 'string') return run;
  const figures = run[test];
  if (figures === undefined) return `redis-benchmark gave no ${test} figures`;
  return pids.length === 0
    ? figures
    : { ...figures, serverCpuUsPerRequest: Math.round((cpuMs * 1000 * 10) / options.requests) / 10 };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function startRedis(): Promise<Target | string> {
  const absent = missing('redis-server', 'redis-server');
  if (absent !== undefined) return absent;
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    child.kill('SIGTERM');
  };
  // Wait (bounded: 100 tries, 50 ms apart) until it answers PING.
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
    if (!up) await new Promise((r) => setTimeout(r, 50));
  }
  if (!up) {
    await stop();
    return `redis-server on port ${port} did not answer PING`;
  }
  return { endpoint: `127.0.0.1:${port}`, pids: child.pid === undefined ? [] : [child.pid], stop };
}

async function startCairn(nodes: number, options: Options): Promise<Target | string> {
  try {
    const cluster = await startCairnKv(
      options.sync === undefined ? { nodes } : { nodes, sync: options.sync },
    );
    return { endpoint: cluster.endpoints[0]!, pids: cluster.pids, stop: () => cluster.stop() };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return err instanceof CairnKvUnavailable ? reason : `start failed: ${reason}`;
  }
}

/** The median of `xs` (the mean of the middle two for an even count); undefined for none. */
export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Medians over the rounds of one target, mode and test; undefined when no round has figures. */
export function summarize(rounds: readonly Figures[]): RoundedFigures | undefined {
  if (rounds.length === 0) return undefined;
  const cpu = rounds.flatMap((r) => (r.serverCpuUsPerRequest === undefined ? [] : [r.serverCpuUsPerRequest]));
  const out: RoundedFigures = {
    rps: Math.round(median(rounds.map((r) => r.rps))! * 100) / 100,
    p50Ms: round3(median(rounds.map((r) => r.p50Ms))!),
    p99Ms: round3(median(rounds.map((r) => r.p99Ms))!),
    rpsRounds: rounds.map((r) => r.rps),
  };
  const c = median(cpu);
  if (c !== undefined) out.serverCpuUsPerRequest = Math.round(c * 10) / 10;
  return out;
}

/**
 * Each round's ratio of `cairn` to `redis` requests/s, the two taken in the same round; rounds
 * where either has no figure are left out.
 */
export function roundRatios(
  cairn: readonly (Figures | undefined)[],
  redis: readonly (Figures | undefined)[],
): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(cairn.length, redis.length); i++) {
    const a = cairn[i];
    const b = redis[i];
    if (a !== undefined && b !== undefined && b.rps > 0) out.push(round3(a.rps / b.rps));
  }
  return out;
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

type Mode = 'plain' | 'pipelined';
const MODES: readonly Mode[] = ['plain', 'pipelined'];
const TESTS = ['SET', 'GET'] as const;

export async function main(argv: string[]): Promise<object> {
  const options = parseOptions(argv);
  const noBenchmark = missing('redis-benchmark', 'redis-tools');
  if (noBenchmark !== undefined) {
    log(`kv bench: ${noBenchmark}; nothing measured`);
    return { unavailable: noBenchmark };
  }
  const results: Partial<Record<TargetName, TargetResult>> = {};
  const up = new Map<TargetName, Target>();
  /** Per target, mode and test: each round's figures (undefined for a round that failed). */
  const perRound = new Map<string, (Figures | undefined)[]>();
  const failures = new Map<string, string>();
  try {
    for (const name of options.targets) {
      log(`kv bench: starting ${name}`);
      const t = name === 'redis' ? await startRedis() : await startCairn(name === 'one' ? 1 : 3, options);
      if (typeof t === 'string') {
        results[name] = { unavailable: t };
        continue;
      }
      up.set(name, t);
      if (options.warmup > 0) {
        log('  (warm-up, not measured)');
        const warm = await redisBenchmark(t.endpoint, options, 1, options.warmup, 'set,get');
        if (typeof warm === 'string') {
          results[name] = { unavailable: `warm-up failed: ${warm}` };
          up.delete(name);
          await t.stop();
        }
      }
    }
    const names = [...up.keys()];
    for (let round = 0; round < options.rounds; round++) {
      // The order of the targets turns each round, so none is always measured first or last.
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      log(`kv bench: round ${round + 1} of ${options.rounds} (${order.join(', ')})`);
      for (const mode of MODES) {
        const pipeline = mode === 'plain' ? 1 : options.pipeline;
        for (const test of TESTS) {
          for (const name of order) {
            const key = `${name} ${mode} ${test}`;
            for (const [other, t] of up) signalAll(t, other === name ? 'SIGCONT' : 'SIGSTOP');
            await new Promise((r) => setTimeout(r, SETTLE_MS));
            const got = await measure(up.get(name)!, options, pipeline, test);
            const list = perRound.get(key) ?? [];
            perRound.set(key, list);
            if (typeof got === 'string') {
              failures.set(key, got);
              list.push(undefined);
            } else list.push(got);
          }
        }
      }
    }
  } finally {
    for (const t of up.values()) {
      signalAll(t, 'SIGCONT');
      await t.stop();
    }
  }
  for (const name of up.keys()) {
    const r: TargetResult = {};
    for (const mode of MODES) {
      const figures: { SET?: RoundedFigures; GET?: RoundedFigures } = {};
      for (const test of TESTS) {
        const rounds = (perRound.get(`${name} ${mode} ${test}`) ?? []).filter(
          (f): f is Figures => f !== undefined,
        );
        const summary = summarize(rounds);
        if (summary !== undefined) figures[test] = summary;
      }
      const failed = failures.get(`${name} ${mode} SET`) ?? failures.get(`${name} ${mode} GET`);
      r[mode] =
        figures.SET === undefined && figures.GET === undefined && failed !== undefined ? failed : figures;
    }
    results[name] = r;
  }
  const ratios: Record<string, number | undefined> = {};
  const ratioRounds: Record<string, number[]> = {};
  for (const target of ['one', 'three'] as const)
    for (const mode of MODES)
      for (const test of TESTS) {
        const key = `${target}/redis ${mode} ${test}`;
        const each = roundRatios(
          perRound.get(`${target} ${mode} ${test}`) ?? [],
          perRound.get(`redis ${mode} ${test}`) ?? [],
        );
        const m = median(each);
        ratios[key] = m === undefined ? undefined : round3(m);
        ratioRounds[key] = each;
      }
  if (!options.json) {
    log(table(results));
    log(
      `ratios (Cairn req/s over Redis req/s, the median of ${options.rounds} rounds' ratios; goals: one >= 0.5, three >= 0.3):`,
    );
    for (const [k, v] of Object.entries(ratios))
      log(
        `  ${k}: ${v ?? 'n/a'}${ratioRounds[k]!.length > 1 ? ` (rounds: ${ratioRounds[k]!.join(', ')})` : ''}`,
      );
  }
  return {
    settings: {
      requests: options.requests,
      clients: options.clients,
      pipeline: options.pipeline,
      keyspace: options.keyspace,
      warmup: options.warmup,
      rounds: options.rounds,
      sync: options.sync ?? 'agent default',
    },
    results,
    ratios,
    ratioRounds,
    goals: { oneNodeOverRedis: 0.5, threeNodesQuorumOverRedis: 0.3 },
  };
}
