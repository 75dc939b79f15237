import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts Cairn's 3-member consistent store on loopback for `bench/store.ts`: `cairn dev --nodes 3
 * --roles membership,store` in a child process (three agent processes, the first three being the
 * store's voters), serving the etcd v3 API on each member's port. Waits until every member reports
 * the same leader and every member's published client and peer URLs.
 */

/** A running store: gRPC endpoints (`http://127.0.0.1:<port>`) and a stop that frees everything. */
export interface CairnStoreHandle {
  readonly endpoints: string[];
  /** Process ids whose CPU is the server's, when the members run in child processes. */
  readonly pids?: number[];
  stop(): Promise<void>;
}

/** The store cannot be started by the bench; `message` says why. */
export class CairnStoreUnavailable extends Error {
  override readonly name = 'CairnStoreUnavailable';
}

const REPO = fileURLToPath(new URL('../', import.meta.url));

interface DevJson {
  nodes: { name: string; pid: number; http: string; etcd?: string }[];
}

/** Starts the store: three voting members on loopback. */
export async function startCairnStore(options: { basePort?: number } = {}): Promise<CairnStoreHandle> {
  const dataRoot = await mkdtemp(join(tmpdir(), 'cairn-bench-store-'));
  const basePort = options.basePort ?? 17_000 + Math.floor(Math.random() * 40) * 500;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'dev',
      '--nodes',
      '3',
      '--roles',
      'membership,store',
      '--base-port',
      String(basePort),
      '--data-root',
      dataRoot,
      '--json',
      '--log-level',
      'warn',
    ],
    { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<DevJson>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CairnStoreUnavailable(`cairn dev did not get ready in 60 s: ${err.slice(-500)}`)),
      60_000,
    );
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)) as DevJson);
        } catch (e) {
          reject(new CairnStoreUnavailable(`cairn dev printed no JSON: ${out.slice(0, 200)}`, { cause: e }));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new CairnStoreUnavailable(`cairn dev exited with code ${code}: ${err.slice(-500)}`));
    });
  });
  const stop = async () => {
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dataRoot, { recursive: true, force: true });
  };
  const endpoints = ready.nodes.map((n) => n.etcd).filter((a): a is string => a !== undefined);
  const https = ready.nodes.map((n) => n.http);
  if (endpoints.length !== 3) {
    await stop();
    throw new CairnStoreUnavailable(`cairn dev reported ${endpoints.length} etcd endpoints, not 3`);
  }
  // Wait (bounded: 30 s) for one leader seen by all three, and every member's published URLs.
  type Status = { leader: string; members: { clientUrls: string[]; peerUrls: string[] }[] };
  for (let i = 0; i < 300; i++) {
    const all = await Promise.all(
      https.map((h) =>
        fetch(`http://${h}/v1/store/status`)
          .then((r) => (r.ok ? (r.json() as Promise<Status>) : undefined))
          .catch(() => undefined),
      ),
    );
    const ready = all.every(
      (s) =>
        s !== undefined &&
        s.leader !== '' &&
        s.leader === all[0]!.leader &&
        s.members.length === 3 &&
        s.members.every((m) => m.clientUrls.length > 0 && m.peerUrls.length > 0),
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoints: endpoints.map((e) => `http://${e}`), pids: ready.nodes.map((n) => n.pid), stop };
}
