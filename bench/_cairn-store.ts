/**
 * Starts Cairn's 3-member consistent store on loopback for `bench/store.ts`, serving the etcd v3
 * API on each member's port.
 *
 * Not wired yet: the store runs as the agent's `store` role, which does not exist yet. Until it
 * does, `startCairnStore` throws {@link CairnStoreUnavailable} and the bench reports
 * `cairn: unavailable (<reason>)` beside etcd's figures.
 */

/** A running store: gRPC endpoints (`http://127.0.0.1:<port>`) and a stop that frees everything. */
export interface CairnStoreHandle {
  readonly endpoints: string[];
  /** Process ids whose CPU is the server's, when the members run in child processes. */
  readonly pids?: number[];
  stop(): Promise<void>;
}

/** The store cannot be started by the bench (yet); `message` says why. */
export class CairnStoreUnavailable extends Error {
  override readonly name = 'CairnStoreUnavailable';
}

/** Starts the store: three voting members on loopback. */
export async function startCairnStore(): Promise<CairnStoreHandle> {
  throw new CairnStoreUnavailable(
    'the agent store role (cairn dev with 3 store members) is not available yet; bench/_cairn-store.ts must start it',
  );
}
