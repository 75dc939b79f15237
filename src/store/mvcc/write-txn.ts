import { assert, compareBytes } from '../../core/index.js';
import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../api.js';
import { StoreError } from '../errors.js';
import type { TreeIndex } from './key-index.js';
import {
  encodePutRecord,
  encodeRecord,
  keyString,
  type Rev,
  recordToKv,
  type StoredRecord,
  toRangeEnd,
} from './layout.js';
import { rangeAt } from './range.js';

/** What a write txn needs from the store around it. */
export interface TxnHost {
  readonly index: TreeIndex;
  readonly compactRevision: number;
  /** A record by revision from the cache or Storage. */
  readRecord(rev: Rev): Promise<StoredRecord>;
  leaseExists(id: number): boolean;
  /** The lease attached to a live key (latin1 key string), or 0. */
  keyLease(key: string): number;
  header(revision: number): ResponseHeader;
}

/** One write of a txn, in sub-revision order. */
export interface Change {
  readonly rev: Rev;
  readonly record: StoredRecord;
  /** The record's bytes as Storage holds them (see `encodeRecord`). */
  readonly bytes: Uint8Array;
  /** The key's previous state (for watchers' prevKv), when it had one. */
  readonly prev: KeyValue | undefined;
}

/**
 * One revision's worth of writes, as etcd's storeTxnWrite: every write gets main revision
 * `beginRev + 1` and the next sub revision; reads see the txn's own earlier writes. The index is
 * updated as writes happen (readers at published revisions never look above them); records wait
 * in `changes` until the store writes the batch.
 */
export class WriteTxn {
  readonly changes: Change[] = [];
  /** Lease attachments to make at publish: [lease, key string, attach?]. */
  readonly leaseMoves: Array<[lease: number, key: string, attach: boolean]> = [];

  constructor(
    private readonly host: TxnHost,
    readonly beginRev: number,
  ) {}

  /** The revision reads of this txn see: the next one once it has written. */
  get readRev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  /** The store's revision after this txn. */
  get endRev(): number {
    return this.readRev;
  }

  read = async (rev: Rev): Promise<StoredRecord> => {
    // This txn's own writes are `changes[sub]` at main revision beginRev + 1.
    if (rev.main === this.beginRev + 1 && rev.sub < this.changes.length) return this.changes[rev.sub]!.record;
    return this.host.readRecord(rev);
  };

  /** A range inside the txn; `revision` was checked by {@link checkRangeRevision}. */
  async range(r: RangeRequest): Promise<RangeResponse> {
    const at = r.revision !== undefined && r.revision > 0 ? r.revision : this.readRev;
    const res = await rangeAt(this.host.index, this.read, r, at);
    return { header: this.host.header(this.readRev), ...res };
  }

  /** etcd's applierV3backend.Put; `StoreError` for keyNotFound or leaseNotFound. */
  async put(p: PutRequest): Promise<PutResponse | StoreError> {
    const k = keyString(p.key);
    const ki = this.host.index.find(k);
    const at = ki?.get(this.readRev);
    const prev =
      at === undefined ? undefined : recordToKv(at.record ?? (await this.read(at.mod)), at.mod.main);
    if ((p.ignoreValue || p.ignoreLease) && prev === undefined) return new StoreError('keyNotFound');
    const value = p.ignoreValue ? prev!.value : p.value;
    const lease = p.ignoreLease ? prev!.lease : (p.lease ?? 0);
    if (lease !== 0 && !p.ignoreLease && !this.host.leaseExists(lease))
      return new StoreError('leaseNotFound');
    const main = this.beginRev + 1;
    const rev = { main, sub: this.changes.length };
    const { record, bytes } = encodePutRecord(
      p.key,
      value,
      at === undefined ? main : at.created.main,
      (at?.version ?? 0) + 1,
      lease,
    );
    this.host.index.putRecord(k, ki, rev, record);
    this.record(rev, record, bytes, prev);
    const oldLease = prev === undefined ? 0 : this.host.keyLease(k);
    if (oldLease !== 0) this.leaseMoves.push([oldLease, k, false]);
    if (lease !== 0) this.leaseMoves.push([lease, k, true]);
    const res: PutResponse = { header: this.host.header(main) };
    return p.prevKv && prev !== undefined ? { ...res, prevKv: prev } : res;
  }

  /** etcd's DeleteRange: a tombstone per live key in the range, in key order. */
  async deleteRange(d: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    const keys = this.host.index.range(d.key, toRangeEnd(d.rangeEnd), this.readRev);
    const prevKvs: KeyValue[] = [];
    for (const k of keys) {
      const prev = recordToKv(k.record ?? (await this.read(k.mod)), k.mod.main);
      prevKvs.push(prev);
      const rev = { main: this.beginRev + 1, sub: this.changes.length };
      this.host.index.tombstone(k.key, rev);
      const record: StoredRecord = { tombstone: true, key: k.key };
      this.record(rev, record, encodeRecord(record), prev);
      const ks = keyString(k.key);
      const lease = this.host.keyLease(ks);
      if (lease !== 0) this.leaseMoves.push([lease, ks, false]);
    }
    return { header: this.host.header(this.readRev), deleted: keys.length, prevKvs: d.prevKv ? prevKvs : [] };
  }

  /**
   * etcd's txn: every compare (nested ones too) is evaluated first against the state before the
   * txn, then the puts and ranges on the chosen path are checked (leases, ignore flags, range
   * revisions) before anything is written, so a failing txn writes nothing.
   */
  async txn(t: TxnRequest): Promise<TxnResponse | StoreError> {
    const path = await this.compareToPath(t);
    const err = await this.checkPath(t, path, 0);
    if (typeof err !== 'number') return err;
    const res = await this.applyTxn(t, path, 0);
    return { ...res.resp, header: this.host.header(this.readRev) };
  }

  private async compareToPath(t: TxnRequest): Promise<boolean[]> {
    let ok = true;
    for (const c of t.compare) {
      if (!(await this.compare(c))) {
        ok = false;
        break;
      }
    }
    const path = [ok];
    for (const op of ok ? t.success : t.failure) {
      if ('txn' in op) path.push(...(await this.compareToPath(op.txn)));
    }
    return path;
  }

  /** etcd's applyCompare: every key in the range must pass; no key compares as the zero kv. */
  private async compare(c: Compare): Promise<boolean> {
    const keys = this.host.index.range(c.key, toRangeEnd(c.rangeEnd), this.readRev);
    if (keys.length === 0) {
      if (c.target === 'value') return false;
      return compareKv(c, undefined);
    }
    for (const k of keys) {
      const kv =
        c.target === 'value' ? recordToKv(k.record ?? (await this.read(k.mod)), k.mod.main) : undefined;
      const view = kv ?? {
        key: k.key,
        value: new Uint8Array(0),
        createRevision: k.created.main,
        modRevision: k.mod.main,
        version: k.version,
        lease: this.host.keyLease(keyString(k.key)),
      };
      if (!compareKv(c, view)) return false;
    }
    return true;
  }

  /** Checks the ops on `path` from `at`; returns the next path position, or the first error. */
  private async checkPath(t: TxnRequest, path: boolean[], at: number): Promise<number | StoreError> {
    let next = at + 1;
    for (const op of path[at] ? t.success : t.failure) {
      if ('txn' in op) {
        const r = await this.checkPath(op.txn, path, next);
        if (typeof r !== 'number') return r;
        next = r;
      } else if ('put' in op) {
        const p = op.put;
        if (p.ignoreValue || p.ignoreLease) {
          if (this.host.index.get(p.key, this.readRev) === undefined) return new StoreError('keyNotFound');
        }
        if ((p.lease ?? 0) !== 0 && !this.host.leaseExists(p.lease!)) return new StoreError('leaseNotFound');
      } else if ('range' in op) {
        const e = checkRangeRevision(op.range.revision, this.readRev, this.host.compactRevision);
        if (e !== undefined) return e;
      }
    }
    return next;
  }

  private async applyTxn(
    t: TxnRequest,
    path: boolean[],
    at: number,
  ): Promise<{ resp: Omit<TxnResponse, 'header'>; next: number }> {
    const succeeded = path[at]!;
    let next = at + 1;
    const responses: ResponseOp[] = [];
    for (const op of succeeded ? t.success : t.failure) {
      const r = await this.applyOp(op, path, next);
      next = r.next;
      responses.push(r.resp);
    }
    return { resp: { succeeded, responses }, next };
  }

  private async applyOp(
    op: RequestOp,
    path: boolean[],
    next: number,
  ): Promise<{ resp: ResponseOp; next: number }> {
    if ('range' in op) return { resp: { range: await this.range(op.range) }, next };
    if ('deleteRange' in op) return { resp: { deleteRange: await this.deleteRange(op.deleteRange) }, next };
    if ('put' in op) {
      const r = await this.put(op.put);
      // Checked before the first write; a key deleted earlier in this txn is refused by the
      // duplicate-key check, so this cannot fail. Answer as etcd would if it somehow did.
      return {
        resp: { put: r instanceof StoreError ? { header: this.host.header(this.readRev) } : r },
        next,
      };
    }
    const r = await this.applyTxn(op.txn, path, next);
    return { resp: { txn: { ...r.resp, header: this.host.header(this.readRev) } }, next: r.next };
  }

  private record(rev: Rev, record: StoredRecord, bytes: Uint8Array, prev: KeyValue | undefined): void {
    assert(
      rev.main === this.beginRev + 1 && rev.sub === this.changes.length,
      () => `a txn write out of order: ${rev.main}.${rev.sub}`,
    );
    this.changes.push({ rev, record, bytes, prev });
  }
}

/** etcd's checks of a read revision: above the current one is futureRev, below compaction compacted. */
export function checkRangeRevision(
  revision: number | undefined,
  current: number,
  compactRevision: number,
): StoreError | undefined {
  if (revision === undefined || revision <= 0) return undefined;
  if (revision > current) return new StoreError('futureRev');
  if (revision < compactRevision) return new StoreError('compacted');
  return undefined;
}

function compareKv(c: Compare, kv: KeyValue | undefined): boolean {
  let result: number;
  if (c.target === 'value') {
    const want = c.value instanceof Uint8Array ? c.value : new Uint8Array(0);
    result = compareBytes(kv?.value ?? new Uint8Array(0), want);
  } else {
    const want = typeof c.value === 'number' ? c.value : 0;
    const have =
      kv === undefined
        ? 0
        : c.target === 'version'
          ? kv.version
          : c.target === 'create'
            ? kv.createRevision
            : c.target === 'mod'
              ? kv.modRevision
              : kv.lease;
    result = Math.sign(have - want);
  }
  switch (c.result) {
    case 'equal':
      return result === 0;
    case 'notEqual':
      return result !== 0;
    case 'greater':
      return result > 0;
    case 'less':
      return result < 0;
  }
}
