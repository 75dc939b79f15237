import { Etcd3, type IKeyValue, type IOptions } from 'etcd3';
import { storeErrorOf } from '../../../store/client/etcd-client-store.js';
import { isStoreError } from '../../../store/errors.js';
import type { KvInput, KvOutput } from '../../lincheck/index.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';

/**
 * One lab client of the store: the `etcd3` package pinned to one agent's etcd endpoint, with the
 * package's fault handling switched off. Its default retries a call up to three times on a
 * "recoverable" error, and a retried write can apply twice (the first attempt applied, its answer
 * lost): the history would then hold one operation for two writes, and the checker would report
 * a violation the store did not commit. Without retries, every call is one request, and a call
 * that fails is recorded as failed (definitely not applied) or unknown, as {@link classifyError}
 * says.
 */

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** A fault-handling policy that runs the call once and passes its error through. */
const ONCE = {
  execute: (fn: (context: { signal: AbortSignal }) => unknown) =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
} as unknown as Policy;

/** How one failed call is recorded, and under which name it is counted. */
export interface ErrorClass {
  /** `fail`: definitely not applied (refused before it reached the log); `info`: unknown. */
  outcome: 'fail' | 'info';
  /** A short stable name for the figures: `etcd:<name>`, `grpc:<status>`, `timeout`, ... */
  kind: string;
}

/**
 * etcd errors answered before a request is proposed: the request was refused and never applies.
 * Everything else (`timeout`, `leaderChanged`, `noLeader`, `stopped`, a lost connection) may have
 * been proposed and may still apply, so it is unknown.
 */
const REFUSED = new Set([
  'notSupportedForLearner',
  'invalidAuthToken',
  'authFailed',
  'permissionDenied',
  'userEmpty',
  'tooManyRequests',
  'requestTooLarge',
  'emptyKey',
  'invalidArgument',
]);

/**
 * Classifies a failed call. A read that fails changed nothing, so it is always `fail`; a write is
 * `fail` only when it provably never reached the store (no connection, or an etcd refusal from
 * {@link REFUSED}), else `info`.
 */
export function classifyError(err: unknown, isRead: boolean): ErrorClass {
  const mapped = storeErrorOf(err);
  let kind: string;
  let refused = false;
  if (isStoreError(mapped)) {
    kind = `etcd:${mapped.etcd}`;
    refused = REFUSED.has(mapped.etcd);
  } else if (err instanceof Error) {
    const message = err.message;
    if (/No connection established|ECONNREFUSED|EHOSTUNREACH/.test(message)) {
      // grpc-js fails a call at once when its channel has no connection: nothing was sent.
      kind = 'no-connection';
      refused = true;
    } else if (/DEADLINE_EXCEEDED|Deadline exceeded/i.test(message)) kind = 'timeout';
    else kind = `error:${err.constructor.name}`;
  } else kind = 'error:unknown';
  return { outcome: isRead || refused ? 'fail' : 'info', kind };
}

/** One row of a final read: a key and what the store holds for it (null: absent). */
export interface FinalRow {
  key: string;
  value: string | null;
  /** 0 when absent. */
  modRevision: number;
}

/** See the file comment. */
export class LabStoreClient {
  private readonly etcd: Etcd3;

  /**
   * @param endpoint - `host:port` of one agent's etcd API
   * @param token - a capability token, sent as the etcd password
   */
  constructor(endpoint: string, token: string) {
    this.etcd = new Etcd3({
      hosts: [`http://${endpoint}`],
      auth: { username: 'lab', password: token },
      dialTimeout: DEFAULT_LIMITS.storeOpTimeoutMs,
      faultHandling: { global: ONCE, host: () => ONCE },
      // grpc-js backs off reconnects up to 2 minutes by default: a restarted agent would stay
      // unreachable to its clients long after it answers again.
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
      },
    });
  }

  /** Runs one operation with a deadline; the answer as the KV model reads it. */
  async run(input: KvInput): Promise<KvOutput> {
    const options = { deadline: Date.now() + DEFAULT_LIMITS.storeOpTimeoutMs };
    switch (input.type) {
      case 'get': {
        const r = await this.etcd.get(input.key).options(options).exec();
        const kv = r.kvs[0];
        return kv === undefined
          ? { type: 'get', value: null, modRevision: 0 }
          : { type: 'get', value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
      }
      case 'put': {
        const r = await this.etcd.put(input.key).value(input.value).options(options).exec();
        return { type: 'put', revision: Number(r.header.revision) };
      }
      case 'delete': {
        const r = await this.etcd.delete().key(input.key).options(options).exec();
        return { type: 'delete', deleted: Number(r.deleted), revision: Number(r.header.revision) };
      }
      case 'cas': {
        const c = input.compare;
        const txn =
          'value' in c
            ? this.etcd.if(input.key, 'Value', '==', c.value)
            : this.etcd.if(input.key, 'Mod', '==', c.modRevision);
        const r = await txn.then(this.etcd.put(input.key).value(input.value)).options(options).commit();
        return { type: 'cas', succeeded: r.succeeded, revision: Number(r.header.revision) };
      }
    }
  }

  /**
   * A linearizable read of every key in [first, last]: one request, one point in time.
   *
   * @returns the keys present, in key order
   */
  async readRange(first: string, last: string): Promise<FinalRow[]> {
    const r = await this.etcd
      .getAll()
      .inRange({ start: first, end: `${last}\u0000` })
      .options({ deadline: Date.now() + DEFAULT_LIMITS.storeOpTimeoutMs })
      .exec();
    return r.kvs.map((kv: IKeyValue) => ({
      key: kv.key.toString(),
      value: kv.value.toString(),
      modRevision: Number(kv.mod_revision),
    }));
  }

  /** Closes the connection. */
  close(): void {
    this.etcd.close();
  }
}
