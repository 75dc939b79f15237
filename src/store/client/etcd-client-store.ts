import { randomInt } from 'node:crypto';
import { Etcd3, type IOptions } from 'etcd3';
import { CairnError } from '../../core/errors.js';
import type {
  CallOptions,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  Member,
  MemberListResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  StoreClient,
  TxnRequest,
  TxnResponse,
  Watch,
  WatchRequest,
  WatchResponse,
} from '../api.js';
import { ETCD_ERRORS, type EtcdErrorName, isStoreError, StoreError } from '../errors.js';
import {
  deleteRangeRequestToProto,
  deleteRangeResponseFromProto,
  eventFromProto,
  headerFromProto,
  lossyUint64,
  memberFromProto,
  memberIdText,
  type Proto,
  putRequestToProto,
  putResponseFromProto,
  rangeRequestToProto,
  rangeResponseFromProto,
  txnRequestToProto,
  txnResponseFromProto,
  watchCreateToProto,
} from '../etcd/convert.js';
import { int64 } from '../etcd/int64.js';

/**
 * {@link StoreClient} over the `etcd3` package: the store API pointed at any etcd v3 endpoint (a
 * real etcd cluster, or Cairn's own etcd API). It uses etcd3's low-level gRPC clients so every
 * field of the API maps, and turns etcd's errors back into {@link StoreError}s by their message
 * (etcd clients match on messages; so does this one).
 *
 * Two places where a real etcd's 64-bit ids meet the API's numbers below 2^53:
 * - lease ids: etcd picks ids up to 2^63 when asked to; so `leaseGrant` without an id picks a
 *   random one below 2^48 itself and asks etcd for it (retrying on the rare collision).
 * - member ids (random 64-bit in etcd) come back as the nearest number; the exact id is kept per
 *   rounded value from every member response, so `memberRemove`/`memberPromote` of an id seen in
 *   a listing reach the right member.
 *
 * Transport failures (no endpoint reachable) are etcd3's errors, not StoreErrors.
 */

/** Options of {@link EtcdClientStore}. */
export interface EtcdClientStoreOptions {
  /** Endpoints: `host:port` or `http://host:port`. */
  readonly hosts: readonly string[];
  /** etcd user and password; for Cairn's API, any name and a capability token as the password. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Milliseconds to wait for a connection (etcd3's `dialTimeout`); default 5000. */
  readonly dialTimeoutMs?: number;
}

/** Collisions tolerated when picking lease ids client-side before giving up. */
const LEASE_ID_ATTEMPTS = 4;
/** Client-chosen lease ids stay below this (randomInt's ceiling), well inside 2^53. */
const LEASE_ID_CEILING = 2 ** 48 - 1;

/** etcd's error messages, longest first, so a message that extends another matches first. */
const BY_MESSAGE = (Object.entries(ETCD_ERRORS) as [EtcdErrorName, readonly [number, string]][]).sort(
  (a, b) => b[1][1].length - a[1][1].length,
);

/** The StoreError an etcd error stands for, or the error itself when it is not etcd's. */
export function storeErrorOf(err: unknown): unknown {
  if (isStoreError(err) || !(err instanceof Error)) return err;
  for (const [name, [, message]] of BY_MESSAGE) {
    const at = err.message.indexOf(message);
    if (at < 0) continue;
    const rest = err.message.slice(at + message.length);
    const detail = name === 'invalidArgument' && rest.startsWith(': ') ? rest.slice(2) : undefined;
    return new StoreError(name, detail, { cause: err });
  }
  return err;
}

interface Duplex {
  on(event: string, fn: (arg: never) => void): unknown;
  write(item: Proto): void;
  end(): void;
  cancel(): void;
}

interface LowLevel {
  kv: Record<'range' | 'put' | 'deleteRange' | 'txn' | 'compact', (req: Proto) => Promise<Proto>>;
  lease: Record<'leaseGrant' | 'leaseRevoke' | 'leaseTimeToLive', (req: Proto) => Promise<Proto>> & {
    leaseLeases(): Promise<Proto>;
    leaseKeepAlive(): Promise<Duplex>;
  };
  watch: { watch(): Promise<Duplex> };
  cluster: Record<
    'memberAdd' | 'memberRemove' | 'memberList' | 'memberPromote',
    (req: Proto) => Promise<Proto>
  >;
  maintenance: { status(): Promise<Proto> };
}

/** See the module comment. */
export class EtcdClientStore implements StoreClient {
  readonly client: Etcd3;
  private readonly rpc: LowLevel;
  private readonly memberIds = new Map<number, string>();
  private readonly streams = new Set<Duplex>();

  constructor(options: EtcdClientStoreOptions) {
    const etcdOptions: IOptions = {
      hosts: options.hosts.map((h) => (h.includes('://') ? h : `http://${h}`)),
      dialTimeout: options.dialTimeoutMs ?? 5000,
      ...(options.auth === undefined
        ? {}
        : { auth: { username: options.auth.username, password: options.auth.password } }),
    };
    this.client = new Etcd3(etcdOptions);
    this.rpc = {
      kv: this.client.kv as unknown as LowLevel['kv'],
      lease: this.client.leaseClient as unknown as LowLevel['lease'],
      watch: this.client.watchClient as unknown as LowLevel['watch'],
      cluster: this.client.cluster as unknown as LowLevel['cluster'],
      maintenance: this.client.maintenance as unknown as LowLevel['maintenance'],
    };
  }

  /** Runs a call, honouring the signal and mapping etcd's errors. */
  private async call<T>(options: CallOptions | undefined, fn: () => Promise<T>): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted === true)
      throw new CairnError('CANCELLED', 'the call was cancelled before it was sent');
    const work = fn().catch((err: unknown) => {
      throw storeErrorOf(err);
    });
    if (signal === undefined) return work;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () =>
        reject(new CairnError('CANCELLED', 'the call was cancelled (it may still apply)'));
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  range(req: RangeRequest, options?: CallOptions): Promise<RangeResponse> {
    return this.call(options, async () =>
      rangeResponseFromProto(await this.rpc.kv.range(rangeRequestToProto(req))),
    );
  }

  put(req: PutRequest, options?: CallOptions): Promise<PutResponse> {
    return this.call(options, async () =>
      putResponseFromProto(await this.rpc.kv.put(putRequestToProto(req))),
    );
  }

  deleteRange(req: DeleteRangeRequest, options?: CallOptions): Promise<DeleteRangeResponse> {
    return this.call(options, async () =>
      deleteRangeResponseFromProto(await this.rpc.kv.deleteRange(deleteRangeRequestToProto(req))),
    );
  }

  txn(req: TxnRequest, options?: CallOptions): Promise<TxnResponse> {
    return this.call(options, async () =>
      txnResponseFromProto(await this.rpc.kv.txn(txnRequestToProto(req))),
    );
  }

  compact(req: CompactionRequest, options?: CallOptions): Promise<CompactionResponse> {
    return this.call(options, async () => {
      const res = await this.rpc.kv.compact({ revision: req.revision, physical: req.physical === true });
      return { header: headerFromProto(res.header) };
    });
  }

  /**
   * One gRPC watch stream per watch: the created response resolves the promise (a create refused
   * by the server rejects it with the reason); fragments are passed through as they come.
   */
  async watch(req: WatchRequest, onResponse: (res: WatchResponse) => void): Promise<Watch> {
    const stream = await this.call(undefined, () => this.rpc.watch.watch());
    this.streams.add(stream);
    let watchId = -1;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.streams.delete(stream);
      stream.end();
    };
    const created = new Promise<number>((resolve, reject) => {
      stream.on('data', (raw: Proto) => {
        if (done) return;
        const res = watchResponseFromProto(raw);
        if (res.created === true && watchId === -1) {
          if (res.canceled === true) {
            finish();
            reject(storeErrorOf(new Error(res.cancelReason ?? 'watch refused')));
            return;
          }
          watchId = res.watchId;
          resolve(watchId);
        }
        onResponse(res);
        if (res.canceled === true) finish();
      });
      stream.on('error', (err: unknown) => {
        if (watchId === -1) reject(storeErrorOf(err));
        finish();
      });
    });
    stream.write({ create_request: watchCreateToProto(req) });
    const id = await created;
    return {
      watchId: id,
      requestProgress: () => {
        if (!done) stream.write({ progress_request: {} });
      },
      cancel: async () => {
        if (done) return;
        stream.write({ cancel_request: { watch_id: id } });
        finish();
      },
    };
  }

  async leaseGrant(ttl: number, id?: number, options?: CallOptions): Promise<LeaseGrantResponse> {
    const chosen = id !== undefined && id !== 0;
    for (let attempt = 1; ; attempt++) {
      const leaseId = chosen ? id : randomInt(1, LEASE_ID_CEILING);
      try {
        return await this.call(options, async () => {
          const res = await this.rpc.lease.leaseGrant({ TTL: ttl, ID: leaseId });
          return { header: headerFromProto(res.header), id: int64(res.ID, 'ID'), ttl: int64(res.TTL, 'TTL') };
        });
      } catch (err) {
        if (chosen || attempt >= LEASE_ID_ATTEMPTS || !isStoreError(err, 'leaseExist')) throw err;
      }
    }
  }

  leaseRevoke(id: number, options?: CallOptions): Promise<{ header: ResponseHeader }> {
    return this.call(options, async () => ({
      header: headerFromProto((await this.rpc.lease.leaseRevoke({ ID: id })).header),
    }));
  }

  /** One refresh over a short-lived LeaseKeepAlive stream. */
  leaseKeepAlive(id: number, options?: CallOptions) {
    return this.call(options, async () => {
      const stream = await this.rpc.lease.leaseKeepAlive();
      this.streams.add(stream);
      try {
        const res = await new Promise<Proto>((resolve, reject) => {
          stream.on('data', (r: Proto) => resolve(r));
          stream.on('error', (err: unknown) => reject(err));
          stream.on('end', () => reject(new StoreError('leaseNotFound')));
          stream.write({ ID: id });
        });
        return { header: headerFromProto(res.header), id: int64(res.ID, 'ID'), ttl: int64(res.TTL, 'TTL') };
      } finally {
        this.streams.delete(stream);
        stream.end();
      }
    });
  }

  leaseTimeToLive(id: number, keys?: boolean, options?: CallOptions): Promise<LeaseTimeToLiveResponse> {
    return this.call(options, async () => {
      const res = await this.rpc.lease.leaseTimeToLive({ ID: id, keys: keys === true });
      return {
        header: headerFromProto(res.header),
        id: int64(res.ID, 'ID'),
        ttl: int64(res.TTL, 'TTL'),
        grantedTtl: int64(res.grantedTTL, 'grantedTTL'),
        keys: Array.isArray(res.keys) ? (res.keys as Uint8Array[]) : [],
      };
    });
  }

  leaseLeases(options?: CallOptions) {
    return this.call(options, async () => {
      const res = await this.rpc.lease.leaseLeases();
      const leases = Array.isArray(res.leases) ? (res.leases as Proto[]) : [];
      return { header: headerFromProto(res.header), leases: leases.map((l) => int64(l.ID, 'ID')) };
    });
  }

  /** Decodes members, remembering each exact id under its rounded number. */
  private members(value: unknown): Member[] {
    const list = Array.isArray(value) ? value : [];
    return list.map((m) => {
      const member = memberFromProto(m);
      this.memberIds.set(member.id, memberIdText(m));
      return member;
    });
  }

  private exactMemberId(id: number): string {
    return this.memberIds.get(id) ?? String(id);
  }

  memberList(options?: CallOptions): Promise<MemberListResponse> {
    return this.call(options, async () => {
      const res = await this.rpc.cluster.memberList({ linearizable: true });
      return { header: headerFromProto(res.header), members: this.members(res.members) };
    });
  }

  memberAdd(peerUrls: readonly string[], isLearner: boolean, options?: CallOptions) {
    return this.call(options, async () => {
      const res = await this.rpc.cluster.memberAdd({ peerURLs: [...peerUrls], isLearner });
      const [member] = this.members([res.member]);
      return { header: headerFromProto(res.header), member: member!, members: this.members(res.members) };
    });
  }

  memberRemove(id: number, options?: CallOptions) {
    return this.call(options, async () => {
      const res = await this.rpc.cluster.memberRemove({ ID: this.exactMemberId(id) });
      return { header: headerFromProto(res.header), members: this.members(res.members) };
    });
  }

  memberPromote(id: number, options?: CallOptions) {
    return this.call(options, async () => {
      const res = await this.rpc.cluster.memberPromote({ ID: this.exactMemberId(id) });
      return { header: headerFromProto(res.header), members: this.members(res.members) };
    });
  }

  status(options?: CallOptions): Promise<StatusResponse> {
    return this.call(options, async () => {
      const s = await this.rpc.maintenance.status();
      return {
        header: headerFromProto(s.header),
        version: typeof s.version === 'string' ? s.version : '',
        dbSize: int64(s.dbSize, 'dbSize'),
        leader: lossyUint64(s.leader),
        raftIndex: lossyUint64(s.raftIndex),
        raftTerm: lossyUint64(s.raftTerm),
        raftAppliedIndex: lossyUint64(s.raftAppliedIndex),
        isLearner: s.isLearner === true,
        errors: Array.isArray(s.errors) ? s.errors.map(String) : [],
      };
    });
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.cancel();
    this.streams.clear();
    this.client.close();
  }
}

/** Decodes a WatchResponse from the wire. */
function watchResponseFromProto(p: Proto): WatchResponse {
  const events = Array.isArray(p.events) ? p.events.map(eventFromProto) : [];
  const created = p.created === true;
  const canceled = p.canceled === true;
  const compactRevision = int64(p.compact_revision, 'compact_revision');
  const cancelReason = typeof p.cancel_reason === 'string' ? p.cancel_reason : '';
  const res: WatchResponse = {
    header: headerFromProto(p.header),
    watchId: int64(p.watch_id, 'watch_id'),
    events,
    ...(created ? { created } : {}),
    ...(canceled ? { canceled } : {}),
    ...(cancelReason !== '' ? { cancelReason } : {}),
    ...(compactRevision !== 0 ? { compactRevision } : {}),
  };
  return !created && !canceled && events.length === 0 ? { ...res, progressNotify: true } : res;
}
