/**
 * The consistent store's client interface: etcd v3's KV, Watch, Lease, Cluster and Maintenance
 * services as TypeScript. Every brick above the store (the config center first) talks to this
 * interface, and it has two implementations: the embedded raft-backed store (`StoreServer`,
 * in-process) and a thin one over the `etcd3` package pointed at any etcd (`EtcdClientStore`).
 * The gRPC server maps etcd's wire API onto the same interface.
 *
 * Keys and values are bytes. Revisions, versions, lease ids and member ids are integers below
 * 2^53 (etcd's are int64; Cairn never issues one above 2^53 - 1, and refuses one from a client).
 * A `rangeEnd` follows etcd: absent means the single key, `\0` (one zero byte) means every key
 * >= `key`, otherwise the half-open range [key, rangeEnd).
 */

/** One stored key, as etcd's mvccpb.KeyValue. */
export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Revision of the key's last creation. */
  readonly createRevision: number;
  /** Revision of the key's last modification. */
  readonly modRevision: number;
  /** Writes since creation; 1 after the first put, reset by a delete. */
  readonly version: number;
  /** The attached lease, or 0. */
  readonly lease: number;
}

/** Every response's header, as etcd's. */
export interface ResponseHeader {
  readonly clusterId: number;
  readonly memberId: number;
  /** The store's revision when the request was served. */
  readonly revision: number;
  readonly raftTerm: number;
}

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

export interface RangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** At most this many keys; 0 or absent is no limit. */
  readonly limit?: number;
  /** Read at this revision; 0 or absent is the current one. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Served from the local member without a ReadIndex round (may be stale). */
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  /** True when `limit` cut the result short. */
  readonly more: boolean;
  /** Keys in the range (before `limit`). */
  readonly count: number;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareResult = 'equal' | 'greater' | 'less' | 'notEqual';

/** One txn guard. `value` is a number for version/create/mod/lease, bytes for value. */
export interface Compare {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly value: number | Uint8Array;
}

export type RequestOp =
  | { readonly range: RangeRequest }
  | { readonly put: PutRequest }
  | { readonly deleteRange: DeleteRangeRequest }
  | { readonly txn: TxnRequest };

export type ResponseOp =
  | { readonly range: RangeResponse }
  | { readonly put: PutResponse }
  | { readonly deleteRange: DeleteRangeResponse }
  | { readonly txn: TxnResponse };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

export interface CompactionRequest {
  readonly revision: number;
  /** Wait until the compaction is durable. */
  readonly physical?: boolean;
}

export interface CompactionResponse {
  readonly header: ResponseHeader;
}

/** One change seen by a watcher. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** For a delete: the key with `modRevision` = the delete's revision and empty value. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface WatchRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** First revision to deliver; 0 or absent is "from now" (current revision + 1). */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  /** Send empty progress responses when idle (every few seconds, as etcd). */
  readonly progressNotify?: boolean;
  readonly filters?: readonly ('noPut' | 'noDelete')[];
  /** Several events of one revision may be split across responses when true. */
  readonly fragment?: boolean;
}

/**
 * What a watcher receives. Events arrive in revision order, each exactly once; all events of one
 * revision arrive in one response (unless `fragment`). A response with no events and
 * `progressNotify` set reports that everything up to `header.revision` has been delivered.
 * `compactRevision` > 0 means the start revision was compacted: the watch is canceled.
 */
export interface WatchResponse {
  readonly header: ResponseHeader;
  readonly watchId: number;
  readonly events: readonly WatchEvent[];
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly cancelReason?: string;
  readonly compactRevision?: number;
  readonly progressNotify?: boolean;
}

/** A live watch. */
export interface Watch {
  readonly watchId: number;
  /** Ask for a progress response now. */
  requestProgress(): void;
  /** Stops the watch; no response is delivered after this resolves. */
  cancel(): Promise<void>;
  /**
   * Restarts delivery after `onResponse` returned `false` (backpressure: the consumer, e.g. a
   * gRPC stream whose write buffer is full, asked the store to stop). The watch catches up from
   * the revision it stopped at, or gets the compacted response if that was compacted meanwhile.
   * Optional: a store without it keeps delivering and the consumer must bound its own buffer.
   */
  resume?(): void;
}

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** The TTL granted, in seconds (etcd raises it to its minimum). */
  readonly ttl: number;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Remaining seconds; -1 when the lease does not exist (expired or revoked). */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Uint8Array[];
}

export interface Member {
  readonly id: number;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberListResponse {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

export interface StatusResponse {
  readonly header: ResponseHeader;
  readonly version: string;
  /** Bytes of the backing store. */
  readonly dbSize: number;
  readonly leader: number;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  readonly errors: readonly string[];
}

/** Who is calling, as established by the API layer from a capability token (absent: trusted). */
export interface CallOptions {
  /** Aborts the call; it rejects with `CANCELLED` (the write may still have applied). */
  readonly signal?: AbortSignal;
}

/**
 * The store: etcd v3 as a TypeScript interface. Errors are {@link StoreError}s whose `etcd`
 * field names etcd's error, so the gRPC layer can answer with etcd's code and message.
 */
export interface StoreClient {
  range(req: RangeRequest, options?: CallOptions): Promise<RangeResponse>;
  put(req: PutRequest, options?: CallOptions): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, options?: CallOptions): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, options?: CallOptions): Promise<TxnResponse>;
  compact(req: CompactionRequest, options?: CallOptions): Promise<CompactionResponse>;

  /**
   * Starts a watch; `onResponse` runs for every response (the first has `created`). When
   * `onResponse` returns `false` the store pauses the watch until {@link Watch.resume}.
   */
  watch(req: WatchRequest, onResponse: (res: WatchResponse) => void): Promise<Watch>;

  /** Grants a lease of `ttl` seconds; `id` 0 or absent lets the store choose. */
  leaseGrant(ttl: number, id?: number, options?: CallOptions): Promise<LeaseGrantResponse>;
  leaseRevoke(id: number, options?: CallOptions): Promise<{ header: ResponseHeader }>;
  /** One keep-alive: refreshes the lease to its granted TTL; answers the new TTL (0: not found). */
  leaseKeepAlive(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; id: number; ttl: number }>;
  leaseTimeToLive(id: number, keys?: boolean, options?: CallOptions): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(options?: CallOptions): Promise<{ header: ResponseHeader; leases: readonly number[] }>;

  memberList(options?: CallOptions): Promise<MemberListResponse>;
  memberAdd(
    peerUrls: readonly string[],
    isLearner: boolean,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; member: Member; members: readonly Member[] }>;
  memberRemove(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; members: readonly Member[] }>;
  memberPromote(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; members: readonly Member[] }>;

  status(options?: CallOptions): Promise<StatusResponse>;

  /** Releases the client (watches are canceled). */
  close(): Promise<void>;
}
