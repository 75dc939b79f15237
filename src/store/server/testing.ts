import { type Clock, Rng, systemClock } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import { DEFAULT_LIMITS as TRANSPORT_LIMITS } from '../../transport/limits.js';
import type { Address, Stream, Transport } from '../../transport/types.js';
import type { StoreServerLimits } from './limits.js';
import { loopbackEngines } from './loopback-raft.js';
import { StoreServer } from './store-server.js';

/**
 * A transport that reaches nobody: a single member never forwards, and raft needs no peers.
 * Dials reject with `TRANSPORT_UNREACHABLE`-like errors; packets vanish.
 */
class NoPeersTransport implements Transport {
  readonly localAddress: Address = '127.0.0.1:0';
  readonly mtu = 1400;
  readonly limits = TRANSPORT_LIMITS;
  sendPacket(): void {}
  onPacket(): void {}
  async dial(to: Address): Promise<Stream> {
    throw new Error(`a single-member store has no peer at ${to}`);
  }
  onStream(): void {}
  async close(): Promise<void> {}
}

/** Options of {@link startSingleMemberStore}. */
export interface SingleMemberOptions {
  /** Default the system clock (leases expire in real time). */
  readonly clock?: Clock;
  /** Member id; default 1. */
  readonly id?: number;
  readonly name?: string;
  readonly clientUrls?: readonly string[];
  readonly limits?: Partial<StoreServerLimits>;
}

/**
 * An in-process, single-member `StoreServer` on MemoryStorage, for tests of the layers above
 * the store (the etcd gRPC API, the config center): the real MVCC store, watch hub and lessor
 * behind the real server glue, with a one-member loopback raft (it applies each proposal at once,
 * in order, as a one-member raft commits on append). Nothing is durable. Stop it with `stop()`.
 *
 * @example
 * ```ts
 * const store = await startSingleMemberStore();
 * await store.put({ key: utf8('a'), value: utf8('1') });
 * await store.stop();
 * ```
 */
export async function startSingleMemberStore(options: SingleMemberOptions = {}): Promise<StoreServer> {
  const clock = options.clock ?? systemClock;
  const id = options.id ?? 1;
  const name = options.name ?? 'default';
  const engines = loopbackEngines(clock);
  return StoreServer.start(
    {
      id,
      name,
      transport: new NoPeersTransport(),
      resolve: () => undefined,
      clock,
      rng: Rng.fromSeed(`single-member-store/${id}`),
      storage: new MemoryStorage(),
      logStore: {
        async load() {
          return { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: undefined, entries: [] };
        },
        async save() {},
        async saveSnapshot() {},
        async compact() {},
        async close() {},
      },
      bootstrap: { voters: [id], learners: [] },
      peerUrls: ['http://127.0.0.1:2380'],
      clientUrls: [...(options.clientUrls ?? ['http://127.0.0.1:2379'])],
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    },
    engines,
  );
}
