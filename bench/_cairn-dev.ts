import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts `cairn dev --json` for a benchmark (`_cairn-store.ts`, `_cairn-kv.ts`): the agents run in
 * child processes from this checkout, with their data in a fresh temporary folder that `stop`
 * removes. Resolves with the first JSON line `cairn dev` prints (every node's addresses and pid).
 */

const REPO = fileURLToPath(new URL('../', import.meta.url));
/** How long `cairn dev` may take to print its addresses. */
const READY_TIMEOUT_MS = 60_000;
/** How long a stopping `cairn dev` gets before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * How to run the CLI: the built `dist/` (what `npm start` and users run), built first when it is
 * missing or older than `src/`; `CAIRN_BENCH_TSX=1` runs the sources through tsx instead (its
 * name-keeping wrappers cost CPU on hot paths, so figures from it are lower).
 * `CAIRN_BENCH_NODE_FLAGS` adds Node flags to `cairn dev` and, through it, to every agent (say
 * `--cpu-prof --cpu-prof-dir=/tmp/p`, which Node refuses in `NODE_OPTIONS`).
 */
async function agentEntry(unavailable: CairnDevOptions['unavailable']): Promise<string[]> {
  const flags = (process.env.CAIRN_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  if (process.env.CAIRN_BENCH_TSX === '1') return [...flags, '--import', 'tsx', 'src/cli/main.ts'];
  const main = join(REPO, 'dist', 'cli', 'main.js');
  const { isStale } = (await import(join(REPO, 'bin', 'freshness.js'))) as {
    isStale: (builtFile: string, sourceDir: string) => boolean;
  };
  if (isStale(main, join(REPO, 'src'))) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    if (build.status !== 0)
      throw unavailable(`npm run build failed (exit ${build.status}): ${String(build.stderr).slice(-500)}`);
  }
  return [...flags, main];
}

/** One node as `cairn dev --json` prints it. */
export interface DevNodeJson {
  name: string;
  pid: number;
  http: string;
  etcd?: string;
  resp?: string;
}

export interface CairnDevOptions {
  readonly nodes: number;
  /** `--roles`. */
  readonly roles: string;
  /**
   * `--base-port`: a fixed one, or `'random'` for a random one below Linux's ephemeral ports
   * (tried again with another when a port is taken).
   */
  readonly basePort: number | 'random';
  /** Prefix of the temporary data folder's name. */
  readonly dataPrefix: string;
  /** Extra environment for the agents. */
  readonly env?: NodeJS.ProcessEnv;
  /** The error to throw (the caller's "unavailable" type). */
  readonly unavailable: (message: string, options?: { cause?: unknown }) => Error;
}

export interface CairnDev {
  readonly nodes: DevNodeJson[];
  stop(): Promise<void>;
}

/**
 * The lowest port Linux gives outgoing connections by default (`ip_local_port_range` starts at
 * 32768): a base port chosen below it is never already held by some client's connection (a bench
 * once lost its three-node target to an ephemeral port at 35600).
 */
const EPHEMERAL_LOW = 32_768;
/** Ports one `cairn dev` may use above its base (`src/node/ports.ts`: base + 400 + node index). */
const PORT_SPAN = 500;
/** Lowest random base port. */
const RANDOM_PORT_LOW = 12_000;
/** Random base ports tried before giving up on ports in use. */
const PORT_ATTEMPTS = 4;

/** A random base port whose whole span lies between {@link RANDOM_PORT_LOW} and the ephemeral range. */
export function randomBasePort(): number {
  const slots = Math.floor((EPHEMERAL_LOW - RANDOM_PORT_LOW) / PORT_SPAN);
  return RANDOM_PORT_LOW + Math.floor(Math.random() * slots) * PORT_SPAN;
}

/** Starts the agents; on any failure they are stopped and the caller's error is thrown. */
export async function startCairnDev(o: CairnDevOptions): Promise<CairnDev> {
  const entry = await agentEntry(o.unavailable);
  if (o.basePort !== 'random') return startOnce(o, entry, o.basePort);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(o, entry, randomBasePort());
    } catch (e) {
      if (attempt >= PORT_ATTEMPTS || !/already in use/.test(String((e as Error).message))) throw e;
    }
  }
}

async function startOnce(o: CairnDevOptions, entry: string[], basePort: number): Promise<CairnDev> {
  const dataRoot = await mkdtemp(join(tmpdir(), o.dataPrefix));
  const child = spawn(
    process.execPath,
    [
      ...entry,
      'dev',
      '--nodes',
      String(o.nodes),
      '--roles',
      o.roles,
      '--base-port',
      String(basePort),
      '--data-root',
      dataRoot,
      '--json',
      '--log-level',
      'warn',
    ],
    { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 10_000) err = err.slice(-5_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dataRoot, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<{ nodes: DevNodeJson[] }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(o.unavailable(`cairn dev did not get ready in 60 s: ${err.slice(-500)}`)),
        READY_TIMEOUT_MS,
      );
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)) as { nodes: DevNodeJson[] });
        } catch (e) {
          reject(o.unavailable(`cairn dev printed no JSON: ${out.slice(0, 200)}`, { cause: e }));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(o.unavailable(`cairn dev exited with code ${code}: ${err.slice(-500)}`));
      });
    });
    return { nodes: ready.nodes, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
