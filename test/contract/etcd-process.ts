/**
 * Starts a real single-member etcd on loopback ports for tests that compare Cairn with etcd.
 * Resolves `undefined` (with the reason) when no `etcd` binary is on the PATH.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running etcd. */
export interface EtcdProcess {
  /** `127.0.0.1:port` of its client API. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Longest wait for etcd to serve, in ms (it starts in well under a second here). */
const START_TIMEOUT_MS = 20_000;

/** Whether an `etcd` binary is installed, or why not. */
export function etcdMissingReason(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'no etcd binary on the PATH (Debian package etcd-server)';
}

/** A free loopback TCP port (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts etcd; resolves once it logs that it serves client requests. */
export async function startEtcd(): Promise<EtcdProcess | undefined> {
  if (etcdMissingReason() !== undefined) return undefined;
  const client = await freePort();
  const peer = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cairn-etcd-'));
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name=default',
      `--data-dir=${dir}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
      '--logger=zap',
      '--log-outputs=stderr',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`etcd did not start in ${START_TIMEOUT_MS} ms:\n${log}`)),
      START_TIMEOUT_MS,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      // etcd 3.4 logs "serving client traffic insecurely", 3.5 "serving client traffic insecurely" too.
      if (log.includes('serving client traffic') || log.includes('serving insecure client requests')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`etcd exited with ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  return {
    endpoint: `127.0.0.1:${client}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        if (child.exitCode !== null) {
          rmSync(dir, { recursive: true, force: true });
          resolve();
          return;
        }
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
