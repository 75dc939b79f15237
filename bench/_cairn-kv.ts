import { startCairnDev } from './_cairn-dev.js';

/**
 * Starts Cairn's partitioned store on loopback for `bench/kv.ts` and `test/e2e/kv-redis.test.ts`:
 * `cairn dev --nodes N --roles membership,kv` in a child process (N agent processes, every one a
 * kv seed, rf = min(3, N)), the Redis protocol on each node's RESP port. Waits until every node's
 * ring (`/v1/kv/ring`) lists all N nodes as `normal` with a RESP address.
 */

/** A running kv cluster. */
export interface CairnKvHandle {
  /** Each node's RESP address, `127.0.0.1:<port>`. */
  readonly endpoints: string[];
  /** The agents' process ids (their CPU is the server's). */
  readonly pids: number[];
  stop(): Promise<void>;
}

/** The cluster cannot be started here; `message` says why. */
export class CairnKvUnavailable extends Error {
  override readonly name = 'CairnKvUnavailable';
}

/** Longest wait for `cairn dev` to print its nodes, and then for the ring to settle. */
/** Polls of the ring while waiting for it to settle (100 ms apart). */
const RING_POLLS = 300;

interface RingJson {
  rf: number;
  nodes: { name: string; status: string; resp: string }[];
}

/** Options of {@link startCairnKv}. */
export interface CairnKvOptions {
  /** Agents, 1 to 9. Default 3. */
  readonly nodes?: number;
  /** fsync each storage batch (the agent's `kv.sync`); absent: the agent's default. */
  readonly sync?: boolean;
  readonly basePort?: number;
}

/** Starts the cluster; see the module comment. */
export async function startCairnKv(options: CairnKvOptions = {}): Promise<CairnKvHandle> {
  const nodes = options.nodes ?? 3;
  const basePort = options.basePort ?? 'random';
  const ready = await startCairnDev({
    nodes,
    roles: 'membership,kv',
    basePort,
    dataPrefix: 'cairn-bench-kv-',
    ...(options.sync === undefined ? {} : { env: { CAIRN_KV_SYNC: String(options.sync) } }),
    unavailable: (message, o) => new CairnKvUnavailable(message, o),
  });
  const stop = ready.stop;
  const endpoints = ready.nodes.map((n) => n.resp).filter((a): a is string => a !== undefined);
  if (endpoints.length !== nodes) {
    await stop();
    throw new CairnKvUnavailable(`cairn dev reported ${endpoints.length} RESP endpoints, not ${nodes}`);
  }
  for (let i = 0; ; i++) {
    const rings = await Promise.all(
      ready.nodes.map((n) =>
        fetch(`http://${n.http}/v1/kv/ring`)
          .then((r) => (r.ok ? (r.json() as Promise<RingJson>) : undefined))
          .catch(() => undefined),
      ),
    );
    const settled = rings.every(
      (r) =>
        r !== undefined &&
        r.nodes.length === nodes &&
        r.nodes.every((n) => n.status === 'normal' && n.resp !== ''),
    );
    if (settled) break;
    if (i >= RING_POLLS) {
      await stop();
      throw new CairnKvUnavailable(`the kv ring did not settle: ${JSON.stringify(rings).slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoints, pids: ready.nodes.map((n) => n.pid), stop };
}
