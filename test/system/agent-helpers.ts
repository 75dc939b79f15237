import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { planDevCluster, portChecks } from '../../src/cli/dev-cluster.js';
import { firstTakenPort } from '../../src/cli/dev-ports.js';
import type { CliIo } from '../../src/cli/lifecycle.js';

/**
 * Helpers for system tests that run `cairn` as real processes on loopback. Every wait here has a
 * deadline and polls a bounded number of times; none is a sleep standing in for synchronisation.
 */

/** The repository root. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A `cairn` process with its output collected line by line. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdoutLines: string[];
  stderr: () => string;
  /** Resolves with the first stdout line matching `test`; rejects on exit or after `ms`. */
  line(test: (line: string) => boolean, ms?: number): Promise<string>;
  /** Resolves with the exit code and signal; rejects after `ms`. */
  exit(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `node --import tsx src/cli/main.ts <args>` from the repository root.
 *
 * @param env - added to the environment (CAIRN_* variables of the test runner are removed first)
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAIRN_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    env: { ...base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdoutLines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    stdoutLines.push(...parts);
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => {});
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      if (partial !== '') stdoutLines.push(partial);
      exited = { code, signal };
      for (const wake of waiters) wake();
      resolve(exited);
    });
  });
  return {
    child,
    stdoutLines,
    stderr: () => stderr,
    line(test, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`no matching line within ${ms} ms; stderr:\n${stderr}`)),
          ms,
        );
        const check = () => {
          const found = stdoutLines.find(test);
          if (found !== undefined) done(undefined, found);
          else if (exited !== undefined)
            done(new Error(`exited (${JSON.stringify(exited)}) without a matching line; stderr:\n${stderr}`));
        };
        const done = (err?: Error, value?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err !== undefined) reject(err);
          else resolve(value!);
        };
        waiters.add(check);
        check();
      });
    },
    exit(ms = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exitPromise.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`process ${child.pid} did not exit within ${ms} ms; stderr:\n${stderr}`)),
            ms,
          );
        }),
      ]);
    },
  };
}

/** A TCP port that was free a moment ago (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Base ports handed out to system tests lie on a grid of {@link PLAN_SPAN}, so no two plans share a
 * port: a dev plan uses base + 100 .. base + 499. The grid stays below 32768, where Linux's
 * ephemeral range starts, so ports that concurrent tests bind with port 0 never take one of ours.
 */
const PLAN_SPAN = 500;
const GRID_LOW = 10_000;
const GRID_SLOTS = Math.floor((32_768 - GRID_LOW) / PLAN_SPAN);
/** Where base ports are reserved across test processes (one file per base, holding the pid). */
const RESERVATIONS = join(tmpdir(), 'cairn-test-ports');
const reserved: string[] = [];
let releaseOnExit = false;

/**
 * Reserves `base` for this process until it exits: a file linked in exclusively, so test files that
 * node runs in parallel processes never get the same plan (the free-port check cannot see a plan
 * whose agents have not bound yet). A reservation whose process is gone is taken over.
 */
function reserveBase(base: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, String(base));
  for (let tries = 0; tries < 2; tries++) {
    // Written aside and linked in, so a reservation file is never seen empty.
    const draft = `${file}.${process.pid}`;
    writeFileSync(draft, String(process.pid));
    try {
      linkSync(draft, file);
      reserved.push(file);
      if (!releaseOnExit) {
        releaseOnExit = true;
        process.once('exit', () => {
          for (const f of reserved) rmSync(f, { force: true });
        });
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        // Released after our link failed and before this read: try again.
      }
      if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) return false;
      rmSync(file, { force: true });
    } finally {
      rmSync(draft, { force: true });
    }
  }
  return false;
}

/**
 * A base port whose dev plan for `nodes` nodes is reserved for this process and free right now
 * (bounded number of tries).
 */
export async function freeBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const base = GRID_LOW + Math.floor(Math.random() * GRID_SLOTS) * PLAN_SPAN;
    if (!reserveBase(base)) continue;
    const plan = planDevCluster({ nodes, basePort: base, dataRoot: '.', cwd: REPO });
    if ((await firstTakenPort('127.0.0.1', portChecks(plan))) === undefined) return base;
  }
  throw new Error('no free base port found in 40 tries');
}

/** True while `pid` is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Polls until every pid is gone; returns the ones still alive after `attempts` polls. */
export async function waitGone(pids: readonly number[], attempts = 100, intervalMs = 100): Promise<number[]> {
  let alive = pids.filter(isAlive);
  for (let i = 0; i < attempts && alive.length > 0; i++) {
    await new Promise((r) => setTimeout(r, intervalMs));
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** GET a URL on loopback: status and body text. */
export async function get(url: string): Promise<{ status: number; text: string; contentType: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

/** In-memory streams for running the CLI in this process. */
export function memoryIo(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  return {
    stdout: sink((s) => {
      out += s;
    }),
    stderr: sink((s) => {
      err += s;
    }),
    env,
    cwd: REPO,
    out: () => out,
    err: () => err,
  };
}
