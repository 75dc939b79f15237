import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  Member,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
  WatchEvent,
  WatchRequest,
  WatchResponse,
} from '../api.js';
import { StoreError } from '../errors.js';
import { int64, uint64 } from './int64.js';

/**
 * Conversions between etcd's protobuf messages (as proto-loader decodes them: snake_case names,
 * int64 as strings, enums as names, bytes as Buffers, defaults filled, `oneofs` naming the set
 * member) and the store's TypeScript API. Both directions are here, for both sides: the server
 * decodes requests and encodes responses; the client encodes requests and decodes responses.
 *
 * Decoders take `unknown` input and validate every field they read; they throw StoreError
 * `invalidArgument` (or `tooManyOps`) and nothing else.
 */

/** A decoded protobuf message. */
export type Proto = Record<string, unknown>;

function obj(value: unknown, field: string): Proto {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StoreError('invalidArgument', `${field} is not a message`);
  }
  return value as Proto;
}

function bytes(value: unknown, field: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value);
  throw new StoreError('invalidArgument', `${field} is not bytes`);
}

function optionalBytes(value: unknown, field: string): Uint8Array | undefined {
  const b = bytes(value, field);
  return b.length === 0 ? undefined : b;
}

function bool(value: unknown): boolean {
  return value === true;
}

function list(value: unknown, field: string, max: number): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new StoreError('invalidArgument', `${field} is not a list`);
  if (value.length > max) throw new StoreError('tooManyOps');
  return value;
}

function enumName<T extends string>(value: unknown, names: Record<string, T>, field: string): T {
  const name = typeof value === 'number' ? Object.keys(names)[value] : value;
  const mapped = typeof name === 'string' ? names[name] : undefined;
  if (mapped === undefined) throw new StoreError('invalidArgument', `${field} ${String(value)} is unknown`);
  return mapped;
}

const SORT_ORDERS: Record<string, SortOrder> = { None: 'none', Ascend: 'ascend', Descend: 'descend' };
const SORT_TARGETS: Record<string, SortTarget> = {
  Key: 'key',
  Version: 'version',
  Create: 'create',
  Mod: 'mod',
  Value: 'value',
};
const COMPARE_RESULTS: Record<string, CompareResult> = {
  Equal: 'equal',
  Greater: 'greater',
  Less: 'less',
  NotEqual: 'notEqual',
};
const COMPARE_TARGETS: Record<string, CompareTarget> = {
  Version: 'version',
  Create: 'create',
  Mod: 'mod',
  Value: 'value',
  Lease: 'lease',
};
const FILTERS: Record<string, 'noPut' | 'noDelete'> = { Noput: 'noPut', Nodelete: 'noDelete' };

function invert<T extends string>(names: Record<string, T>): Record<T, string> {
  return Object.fromEntries(Object.entries(names).map(([k, v]) => [v, k])) as Record<T, string>;
}
const SORT_ORDER_NAMES = invert(SORT_ORDERS);
const SORT_TARGET_NAMES = invert(SORT_TARGETS);
const COMPARE_RESULT_NAMES = invert(COMPARE_RESULTS);
const COMPARE_TARGET_NAMES = invert(COMPARE_TARGETS);
const FILTER_NAMES = invert(FILTERS);

/**
 * Copies only the set optional fields (exactOptionalPropertyTypes forbids `x: undefined`) into a
 * fresh object: deleting them in place would turn every request object into a slow dictionary-mode
 * object (the members' profile had 0.2 s in the deleting version under the bench).
 */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k in o) {
    const value = o[k];
    if (value !== undefined) out[k] = value;
  }
  return out as T;
}

// ---------------------------------------------------------------- requests: proto -> API

/** Decodes a RangeRequest. */
export function rangeRequestFromProto(p: Proto): RangeRequest {
  const n = (f: string) => int64(p[f], f);
  return defined({
    key: bytes(p.key, 'key'),
    rangeEnd: optionalBytes(p.range_end, 'range_end'),
    limit: n('limit') || undefined,
    revision: n('revision') || undefined,
    sortOrder: p.sort_order === undefined ? undefined : enumName(p.sort_order, SORT_ORDERS, 'sort_order'),
    sortTarget:
      p.sort_target === undefined ? undefined : enumName(p.sort_target, SORT_TARGETS, 'sort_target'),
    serializable: bool(p.serializable) || undefined,
    keysOnly: bool(p.keys_only) || undefined,
    countOnly: bool(p.count_only) || undefined,
    minModRevision: n('min_mod_revision') || undefined,
    maxModRevision: n('max_mod_revision') || undefined,
    minCreateRevision: n('min_create_revision') || undefined,
    maxCreateRevision: n('max_create_revision') || undefined,
  }) as RangeRequest;
}

/** Decodes a PutRequest. */
export function putRequestFromProto(p: Proto): PutRequest {
  return defined({
    key: bytes(p.key, 'key'),
    value: bytes(p.value, 'value'),
    lease: int64(p.lease, 'lease') || undefined,
    prevKv: bool(p.prev_kv) || undefined,
    ignoreValue: bool(p.ignore_value) || undefined,
    ignoreLease: bool(p.ignore_lease) || undefined,
  }) as PutRequest;
}

/** Decodes a DeleteRangeRequest. */
export function deleteRangeRequestFromProto(p: Proto): DeleteRangeRequest {
  return defined({
    key: bytes(p.key, 'key'),
    rangeEnd: optionalBytes(p.range_end, 'range_end'),
    prevKv: bool(p.prev_kv) || undefined,
  }) as DeleteRangeRequest;
}

function compareFromProto(p: Proto): Compare {
  const target = enumName(p.target ?? 'Version', COMPARE_TARGETS, 'target');
  const field = {
    version: 'version',
    create: 'create_revision',
    mod: 'mod_revision',
    value: 'value',
    lease: 'lease',
  }[target];
  const value = target === 'value' ? bytes(p.value, 'value') : int64(p[field], field);
  return defined({
    key: bytes(p.key, 'key'),
    rangeEnd: optionalBytes(p.range_end, 'range_end'),
    target,
    result: enumName(p.result ?? 'Equal', COMPARE_RESULTS, 'result'),
    value,
  }) as Compare;
}

function requestOpFromProto(p: Proto, maxOps: number, maxDepth: number, depth: number): RequestOp {
  const which = p.request;
  if (p.request_range != null && (which === undefined || which === 'request_range'))
    return { range: rangeRequestFromProto(obj(p.request_range, 'request_range')) };
  if (p.request_put != null && (which === undefined || which === 'request_put'))
    return { put: putRequestFromProto(obj(p.request_put, 'request_put')) };
  if (p.request_delete_range != null && (which === undefined || which === 'request_delete_range'))
    return { deleteRange: deleteRangeRequestFromProto(obj(p.request_delete_range, 'request_delete_range')) };
  if (p.request_txn != null && (which === undefined || which === 'request_txn'))
    return { txn: txnRequestFromProto(obj(p.request_txn, 'request_txn'), maxOps, maxDepth, depth + 1) };
  throw new StoreError('invalidArgument', 'a txn operation names no request');
}

/**
 * Decodes a TxnRequest, nested txns included.
 *
 * @param maxOps - most operations in one branch (etcd's --max-txn-ops); more is `tooManyOps`
 * @param maxDepth - deepest nesting of txns in txns
 */
export function txnRequestFromProto(p: Proto, maxOps: number, maxDepth: number, depth = 0): TxnRequest {
  if (depth > maxDepth) throw new StoreError('invalidArgument', `txns nested deeper than ${maxDepth}`);
  const ops = (f: string) =>
    list(p[f], f, maxOps).map((o) => requestOpFromProto(obj(o, f), maxOps, maxDepth, depth));
  return {
    compare: list(p.compare, 'compare', maxOps).map((c) => compareFromProto(obj(c, 'compare'))),
    success: ops('success'),
    failure: ops('failure'),
  };
}

/** Decodes a WatchCreateRequest. */
export function watchCreateFromProto(p: Proto): WatchRequest {
  const filters = list(p.filters, 'filters', 2).map((f) => enumName(f, FILTERS, 'filters'));
  return defined({
    key: bytes(p.key, 'key'),
    rangeEnd: optionalBytes(p.range_end, 'range_end'),
    startRevision: int64(p.start_revision, 'start_revision') || undefined,
    prevKv: bool(p.prev_kv) || undefined,
    progressNotify: bool(p.progress_notify) || undefined,
    filters: filters.length === 0 ? undefined : filters,
    fragment: bool(p.fragment) || undefined,
  }) as WatchRequest;
}

// ---------------------------------------------------------------- requests: API -> proto

/**
 * `range_end` only when there is one. protobufjs writes a set empty bytes field, and etcd reads
 * a present-but-empty range end as "to the end of the keyspace" (its internal form of `\0`): a
 * single-key delete sent that way would delete every key after it.
 */
function rangeEndToProto(end: Uint8Array | undefined): { range_end?: Buffer } {
  return end === undefined || end.length === 0 ? {} : { range_end: Buffer.from(end) };
}

/** Encodes a RangeRequest (the client side). */
export function rangeRequestToProto(r: RangeRequest): Proto {
  return {
    key: Buffer.from(r.key),
    ...rangeEndToProto(r.rangeEnd),
    limit: r.limit ?? 0,
    revision: r.revision ?? 0,
    sort_order: SORT_ORDER_NAMES[r.sortOrder ?? 'none'],
    sort_target: SORT_TARGET_NAMES[r.sortTarget ?? 'key'],
    serializable: r.serializable === true,
    keys_only: r.keysOnly === true,
    count_only: r.countOnly === true,
    min_mod_revision: r.minModRevision ?? 0,
    max_mod_revision: r.maxModRevision ?? 0,
    min_create_revision: r.minCreateRevision ?? 0,
    max_create_revision: r.maxCreateRevision ?? 0,
  };
}

/** Encodes a PutRequest. */
export function putRequestToProto(r: PutRequest): Proto {
  return {
    key: Buffer.from(r.key),
    value: Buffer.from(r.value),
    lease: r.lease ?? 0,
    prev_kv: r.prevKv === true,
    ignore_value: r.ignoreValue === true,
    ignore_lease: r.ignoreLease === true,
  };
}

/** Encodes a DeleteRangeRequest. */
export function deleteRangeRequestToProto(r: DeleteRangeRequest): Proto {
  return {
    key: Buffer.from(r.key),
    ...rangeEndToProto(r.rangeEnd),
    prev_kv: r.prevKv === true,
  };
}

function compareToProto(c: Compare): Proto {
  const out: Proto = {
    key: Buffer.from(c.key),
    ...rangeEndToProto(c.rangeEnd),
    target: COMPARE_TARGET_NAMES[c.target],
    result: COMPARE_RESULT_NAMES[c.result],
  };
  const field = {
    version: 'version',
    create: 'create_revision',
    mod: 'mod_revision',
    value: 'value',
    lease: 'lease',
  }[c.target];
  out[field] = c.value instanceof Uint8Array ? Buffer.from(c.value) : c.value;
  out.target_union = field;
  return out;
}

function requestOpToProto(op: RequestOp): Proto {
  if ('range' in op) return { request_range: rangeRequestToProto(op.range) };
  if ('put' in op) return { request_put: putRequestToProto(op.put) };
  if ('deleteRange' in op) return { request_delete_range: deleteRangeRequestToProto(op.deleteRange) };
  return { request_txn: txnRequestToProto(op.txn) };
}

/** Encodes a TxnRequest. */
export function txnRequestToProto(r: TxnRequest): Proto {
  return {
    compare: r.compare.map(compareToProto),
    success: r.success.map(requestOpToProto),
    failure: r.failure.map(requestOpToProto),
  };
}

/** Encodes a WatchCreateRequest. */
export function watchCreateToProto(r: WatchRequest, watchId = 0): Proto {
  return {
    key: Buffer.from(r.key),
    ...rangeEndToProto(r.rangeEnd),
    start_revision: r.startRevision ?? 0,
    progress_notify: r.progressNotify === true,
    filters: (r.filters ?? []).map((f) => FILTER_NAMES[f]),
    prev_kv: r.prevKv === true,
    watch_id: watchId,
    fragment: r.fragment === true,
  };
}

// ---------------------------------------------------------------- responses: API -> proto

/** Encodes a ResponseHeader. */
export function headerToProto(h: ResponseHeader): Proto {
  return { cluster_id: h.clusterId, member_id: h.memberId, revision: h.revision, raft_term: h.raftTerm };
}

/** Encodes a KeyValue. */
export function kvToProto(kv: KeyValue): Proto {
  return {
    key: Buffer.from(kv.key.buffer, kv.key.byteOffset, kv.key.byteLength),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    lease: kv.lease,
  };
}

/** Encodes a RangeResponse. */
export function rangeResponseToProto(r: RangeResponse): Proto {
  return { header: headerToProto(r.header), kvs: r.kvs.map(kvToProto), more: r.more, count: r.count };
}

/** Encodes a PutResponse. */
export function putResponseToProto(r: PutResponse): Proto {
  return r.prevKv === undefined
    ? { header: headerToProto(r.header) }
    : { header: headerToProto(r.header), prev_kv: kvToProto(r.prevKv) };
}

/** Encodes a DeleteRangeResponse. */
export function deleteRangeResponseToProto(r: DeleteRangeResponse): Proto {
  return { header: headerToProto(r.header), deleted: r.deleted, prev_kvs: r.prevKvs.map(kvToProto) };
}

function responseOpToProto(op: ResponseOp): Proto {
  if ('range' in op) return { response_range: rangeResponseToProto(op.range) };
  if ('put' in op) return { response_put: putResponseToProto(op.put) };
  if ('deleteRange' in op) return { response_delete_range: deleteRangeResponseToProto(op.deleteRange) };
  return { response_txn: txnResponseToProto(op.txn) };
}

/** Encodes a TxnResponse. */
export function txnResponseToProto(r: TxnResponse): Proto {
  return {
    header: headerToProto(r.header),
    succeeded: r.succeeded,
    responses: r.responses.map(responseOpToProto),
  };
}

function eventToProto(e: WatchEvent): Proto {
  const out: Proto = { type: e.type === 'put' ? 'Put' : 'Delete', kv: kvToProto(e.kv) };
  if (e.prevKv !== undefined) out.prev_kv = kvToProto(e.prevKv);
  return out;
}

/** Encodes a WatchResponse; `fragment` marks a piece of a split revision that has more to come. */
export function watchResponseToProto(r: WatchResponse, watchId: number, fragment = false): Proto {
  return {
    header: headerToProto(r.header),
    watch_id: watchId,
    created: r.created === true,
    canceled: r.canceled === true,
    compact_revision: r.compactRevision ?? 0,
    cancel_reason: r.cancelReason ?? '',
    fragment,
    events: r.events.map(eventToProto),
  };
}

/** Encodes a Member. */
export function memberToProto(m: Member): Proto {
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

// ---------------------------------------------------------------- responses: proto -> API

/** Decodes a ResponseHeader; uint64 ids past 2^53 (a real etcd's) are rounded, being informational. */
export function headerFromProto(value: unknown): ResponseHeader {
  const p = value === undefined || value === null ? {} : obj(value, 'header');
  return {
    clusterId: lossyUint64(p.cluster_id),
    memberId: lossyUint64(p.member_id),
    revision: int64(p.revision, 'revision'),
    raftTerm: lossyUint64(p.raft_term),
  };
}

/** A uint64 that may be past 2^53 (etcd's random member and cluster ids), as the nearest number. */
export function lossyUint64(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return Number(value);
  return 0;
}

/** Decodes a KeyValue. */
export function kvFromProto(value: unknown): KeyValue {
  const p = obj(value, 'kv');
  return {
    key: bytes(p.key, 'key'),
    value: bytes(p.value, 'value'),
    createRevision: int64(p.create_revision, 'create_revision'),
    modRevision: int64(p.mod_revision, 'mod_revision'),
    version: int64(p.version, 'version'),
    lease: int64(p.lease, 'lease'),
  };
}

/** Decodes a RangeResponse. */
export function rangeResponseFromProto(p: Proto): RangeResponse {
  return {
    header: headerFromProto(p.header),
    kvs: list(p.kvs, 'kvs', Number.POSITIVE_INFINITY).map(kvFromProto),
    more: bool(p.more),
    count: int64(p.count, 'count'),
  };
}

/** Decodes a PutResponse. */
export function putResponseFromProto(p: Proto): PutResponse {
  const out: PutResponse = { header: headerFromProto(p.header) };
  return p.prev_kv == null ? out : { ...out, prevKv: kvFromProto(p.prev_kv) };
}

/** Decodes a DeleteRangeResponse. */
export function deleteRangeResponseFromProto(p: Proto): DeleteRangeResponse {
  return {
    header: headerFromProto(p.header),
    deleted: int64(p.deleted, 'deleted'),
    prevKvs: list(p.prev_kvs, 'prev_kvs', Number.POSITIVE_INFINITY).map(kvFromProto),
  };
}

function responseOpFromProto(value: unknown): ResponseOp {
  const p = obj(value, 'responses');
  if (p.response_range != null)
    return { range: rangeResponseFromProto(obj(p.response_range, 'response_range')) };
  if (p.response_put != null) return { put: putResponseFromProto(obj(p.response_put, 'response_put')) };
  if (p.response_delete_range != null)
    return {
      deleteRange: deleteRangeResponseFromProto(obj(p.response_delete_range, 'response_delete_range')),
    };
  if (p.response_txn != null) return { txn: txnResponseFromProto(obj(p.response_txn, 'response_txn')) };
  throw new StoreError('invalidArgument', 'a txn response names no operation');
}

/** Decodes a TxnResponse. */
export function txnResponseFromProto(p: Proto): TxnResponse {
  return {
    header: headerFromProto(p.header),
    succeeded: bool(p.succeeded),
    responses: list(p.responses, 'responses', Number.POSITIVE_INFINITY).map(responseOpFromProto),
  };
}

/** Decodes a WatchEvent. */
export function eventFromProto(value: unknown): WatchEvent {
  const p = obj(value, 'event');
  const type = p.type === 'Delete' || p.type === 1 ? 'delete' : 'put';
  const out: WatchEvent = { type, kv: kvFromProto(p.kv ?? {}) };
  return p.prev_kv == null ? out : { ...out, prevKv: kvFromProto(p.prev_kv) };
}

/** Decodes a Member; ids past 2^53 (a real etcd's) come back rounded, see EtcdClientStore. */
export function memberFromProto(value: unknown): Member {
  const p = obj(value, 'member');
  const strings = (f: string) => list(p[f], f, Number.POSITIVE_INFINITY).map(String);
  return {
    id: lossyUint64(p.ID),
    name: typeof p.name === 'string' ? p.name : '',
    peerUrls: strings('peerURLs'),
    clientUrls: strings('clientURLs'),
    isLearner: bool(p.isLearner),
  };
}

/** The member's id exactly as the wire spelled it (a decimal string). */
export function memberIdText(value: unknown): string {
  const p = obj(value, 'member');
  return typeof p.ID === 'string' ? p.ID : String(p.ID ?? '0');
}

export { uint64 };
