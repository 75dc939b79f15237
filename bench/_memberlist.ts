/**
 * Builds and runs the memberlist harness (`bench/memberlist/main.go`) for `bench/membership.ts`,
 * so Cairn's figures are compared with hashicorp/memberlist measured on the same machine in the
 * same run, never with figures typed into the code. Skipped by the bench runner (the name starts
 * with `_`).
 *
 * Needs Go (Debian `golang-go`) and memberlist's source in a GOPATH tree (Debian
 * `golang-github-hashicorp-memberlist-dev` and the packages it depends on, under
 * `/usr/share/gocode`; another tree through `CAIRN_MEMBERLIST_GOPATH`). The harness is built in
 * GOPATH mode (no module download) into a cache directory outside the repository named by a hash
 * of its source, the Go version and the tree, so it is built once per change. Anything missing is
 * reported as a reason (`not run: go not found`), never thrown: the bench still prints Cairn's.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Deadlines of the build and the run; over one, the child is killed and the reason reported. */
export const MEMBERLIST_LIMITS = Object.freeze({
  /** A cold build of memberlist and its dependencies took 35 s on a busy 2-core machine. */
  buildTimeoutMs: 300_000,
  /** Added to the harness's own worst case (every wait reaching its deadline), for setup and exit. */
  runMarginMs: 60_000,
  /** Stdout and stderr kept from a child: its one JSON line, or the end of a build's errors. */
  maxOutputBytes: 4 * 1024 * 1024,
});

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'memberlist', 'main.go');
const DEFAULT_GOPATH = '/usr/share/gocode';
const PACKAGE = 'github.com/hashicorp/memberlist';

/** Options of a run: the TypeScript bench's own, so both measure the same thing. */
export interface MemberlistOptions {
  nodes: number;
  rounds: number;
  seed: string;
  timeoutMs: number;
  settleMs: number;
  steadyMs: number;
  leaveTimeoutMs: number;
}

/** The harness's figures (its JSON line), or why it did not run. */
export type MemberlistOutcome =
  | { ran: true; figures: Record<string, unknown>; version: string; buildMs: number }
  | { ran: false; reason: string };

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: NodeJS.ErrnoException;
  timedOut: boolean;
}

/** Runs a child to its end or its deadline; never rejects. */
function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; echoStderr?: boolean },
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let kept = 0;
    const keep = (into: Buffer[], chunk: Buffer) => {
      if (kept + chunk.length > MEMBERLIST_LIMITS.maxOutputBytes) return;
      kept += chunk.length;
      into.push(chunk);
    };
    child.stdout.on('data', (chunk: Buffer) => keep(out, chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (options.echoStderr === true) process.stderr.write(chunk);
      keep(err, chunk);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    let failure: NodeJS.ErrnoException | undefined;
    child.on('error', (e) => {
      failure = e;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(failure === undefined ? {} : { error: failure }),
        timedOut,
      });
    });
  });
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** The Debian package's version of memberlist, or `unknown` (the source carries none). */
async function memberlistVersion(): Promise<string> {
  // dpkg-query's own field syntax, not a template.
  const format = ['-f=$', '{Version}'].join('');
  const r = await run('dpkg-query', ['-W', format, 'golang-github-hashicorp-memberlist-dev'], {
    timeoutMs: 10_000,
  });
  return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : 'unknown';
}

/** Builds the harness unless a binary of this source, Go and tree is cached; returns its path. */
async function build(
  goVersion: string,
  gopath: string,
): Promise<{ ok: true; binary: string; buildMs: number } | { ok: false; reason: string }> {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(goVersion).update(gopath).digest('hex');
  const dir = join(tmpdir(), `cairn-bench-memberlist-${hash.slice(0, 16)}`);
  const binary = join(dir, 'memberlist-bench');
  if (existsSync(binary)) return { ok: true, binary, buildMs: 0 };
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const partial = `${binary}.${process.pid}.partial`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: `${gopath}:${join(dir, 'gopath')}`,
    GOFLAGS: '',
    GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'cairn-bench-go-cache'),
  };
  const r = await run('go', ['build', '-o', partial, SOURCE], {
    env,
    cwd: dirname(SOURCE),
    timeoutMs: MEMBERLIST_LIMITS.buildTimeoutMs,
  });
  if (r.timedOut) return { ok: false, reason: `go build took over ${MEMBERLIST_LIMITS.buildTimeoutMs} ms` };
  if (r.code !== 0) {
    // A missing dependency reads "cannot find package "github.com/..." in any of: ...".
    return { ok: false, reason: `go build failed: ${lastLines(r.stderr, 4)}` };
  }
  renameSync(partial, binary);
  return { ok: true, binary, buildMs: Math.round(performance.now() - started) };
}

/**
 * Builds the memberlist harness if needed and runs it with `options`. Progress goes to stderr.
 *
 * Contract: resolves with the harness's JSON figures, or with `ran: false` and a one-line reason
 * (Go missing, memberlist's source missing, build or run failure, deadline); never rejects.
 *
 * @example
 * ```ts
 * const outcome = await runMemberlist({ nodes: 64, rounds: 5, seed: '1', timeoutMs: 60_000,
 *   settleMs: 2_000, steadyMs: 3_000, leaveTimeoutMs: 2_500 });
 * if (!outcome.ran) console.log(`memberlist: not run: ${outcome.reason}`);
 * ```
 */
export async function runMemberlist(options: MemberlistOptions): Promise<MemberlistOutcome> {
  const go = await run('go', ['version'], { timeoutMs: 30_000 });
  if (go.error?.code === 'ENOENT') return { ran: false, reason: 'go not found' };
  if (go.code !== 0) return { ran: false, reason: `go version failed: ${lastLines(go.stderr, 2)}` };
  const gopath = process.env.CAIRN_MEMBERLIST_GOPATH ?? DEFAULT_GOPATH;
  if (!existsSync(join(gopath, 'src', PACKAGE, 'memberlist.go'))) {
    return {
      ran: false,
      reason: `${PACKAGE} not found under ${gopath} (Debian: golang-github-hashicorp-memberlist-dev)`,
    };
  }
  const built = await build(go.stdout.trim(), gopath);
  if (!built.ok) return { ran: false, reason: built.reason };
  const args = [
    `-nodes=${options.nodes}`,
    `-rounds=${options.rounds}`,
    `-seed=${options.seed}`,
    `-timeout-ms=${options.timeoutMs}`,
    `-settle-ms=${options.settleMs}`,
    `-steady-ms=${options.steadyMs}`,
    `-leave-timeout-ms=${options.leaveTimeoutMs}`,
  ];
  // Every wait of the harness (join, each round of three phases) may reach its deadline.
  const worstMs =
    options.timeoutMs * (1 + 3 * options.rounds) +
    options.settleMs +
    options.steadyMs +
    options.rounds * (options.leaveTimeoutMs + 2_500);
  const r = await run(built.binary, args, {
    timeoutMs: worstMs + MEMBERLIST_LIMITS.runMarginMs,
    echoStderr: true,
  });
  if (r.timedOut) return { ran: false, reason: `the harness ran over ${worstMs} ms and was killed` };
  if (r.code !== 0) return { ran: false, reason: `the harness failed: ${lastLines(r.stderr, 3)}` };
  try {
    const figures = JSON.parse(lastLines(r.stdout, 1)) as unknown;
    if (typeof figures !== 'object' || figures === null || Array.isArray(figures)) {
      return { ran: false, reason: 'the harness printed no JSON object' };
    }
    return {
      ran: true,
      figures: figures as Record<string, unknown>,
      version: await memberlistVersion(),
      buildMs: built.buildMs,
    };
  } catch (err) {
    return { ran: false, reason: `the harness printed no JSON: ${(err as Error).message}` };
  }
}
