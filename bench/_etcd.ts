/**
 * Starts a real 3-member etcd cluster on loopback for benchmarks (Debian's `etcd` 3.4, or any
 * `etcd` in PATH): default settings, temporary data directories, ephemeral ports. Used by
 * `bench/store.ts` to measure etcd beside Cairn in the same run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running cluster. `stop()` ends every member and removes the data directories. */
export interface EtcdCluster {
  readonly endpoints: string[];
  readonly pids: number[];
  readonly version: string;
  stop(): Promise<void>;
}

/** How long a member may take to report healthy before the start is abandoned. */
const START_TIMEOUT_MS = 30_000;
/** How long a member may take to exit after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
/** Gap between two health probes while a cluster starts. */
const HEALTH_POLL_MS = 100;

/** The etcd binary's version line, or undefined when `etcd` is not in PATH. */
export function etcdVersion(): string | undefined {
  try {
    const out = execFileSync('etcd', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /etcd Version: (\S+)/.exec(out)?.[1] ?? out.split('\n')[0];
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `size` etcd members (default 3) and resolves when every one answers `/health`.
 *
 * Contract: on failure every started member is killed and the data removed before the error is
 * thrown; the error carries the members' last stderr lines.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const version = etcdVersion();
  if (version === undefined) throw new Error('etcd binary not found in PATH');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-etcd-'));
  const members: { name: string; client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++)
    members.push({ name: `m${i + 1}`, client: await freePort(), peer: await freePort() });
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const logs = new Map<string, string>();
  const children = members.map((m) => {
    const child = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=http://127.0.0.1:${m.client}`,
        `--advertise-client-urls=http://127.0.0.1:${m.client}`,
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        '--initial-cluster-token=cairn-bench',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // Keep only the tail of the log: etcd is chatty and a long run must not grow memory.
    child.stderr?.on('data', (chunk: Buffer) =>
      logs.set(m.name, ((logs.get(m.name) ?? '') + chunk.toString()).slice(-4000)),
    );
    return child;
  });
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(children.map(exited));
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (true) {
    const died = children.find((c) => c.exitCode !== null);
    const ready = died === undefined && (await Promise.all(endpoints.map(healthy))).every(Boolean);
    if (ready) break;
    if (died !== undefined || Date.now() > deadline) {
      await stop();
      const tail = [...logs]
        .map(([name, log]) => `${name}: ${log.split('\n').slice(-3).join(' | ')}`)
        .join('\n');
      throw new Error(
        `etcd cluster did not become healthy${died === undefined ? ' in time' : ' (a member exited)'}\n${tail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
  return { endpoints, pids: children.map((c) => c.pid ?? 0), version, stop };
}

/** CPU time (user + system, ms) a process has used so far, from /proc; 0 when unreadable. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux.
  } catch {
    return 0;
  }
}
