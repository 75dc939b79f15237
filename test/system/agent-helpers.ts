import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

const handedOut = new Set<number>();

/** A base port whose dev plan for `nodes` nodes is free right now (bounded number of tries). */
export async function freeBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // The whole plan (base + 100 .. base + 400 + nodes) stays below 32768, where Linux's ephemeral
    // range starts: ports that concurrent tests bind with port 0 can never take one of ours.
    const base = 10_000 + Math.floor(Math.random() * 220) * 100;
    // Concurrent tests in this process never share a plan (the check below cannot see a plan
    // whose agents have not bound yet).
    if (handedOut.has(base)) continue;
    handedOut.add(base);
    const plan = planDevCluster({ nodes, basePort: base, dataRoot: '.', cwd: REPO });
    if ((await firstTakenPort('127.0.0.1', portChecks(plan))) === undefined) return base;
  }
  throw new Error('no free base port found in 20 tries');
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
