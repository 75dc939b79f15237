import { startCairnDev } from './_cairn-dev.js';

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

/** Starts the store: three voting members on loopback. */
export async function startCairnStore(options: { basePort?: number } = {}): Promise<CairnStoreHandle> {
  const basePort = options.basePort ?? 'random';
  const ready = await startCairnDev({
    nodes: 3,
    roles: 'membership,store',
    basePort,
    dataPrefix: 'cairn-bench-store-',
    unavailable: (message, o) => new CairnStoreUnavailable(message, o),
  });
  const stop = ready.stop;
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
