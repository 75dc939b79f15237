import type {
  Compare,
  DeleteRangeRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  WatchEvent,
} from '../api.js';
import { StoreError } from '../errors.js';

/**
 * The key-value half of {@link TestingStore}: a deliberately simple multi-version map, written
 * for clarity over speed, that follows etcd's semantics (revisions, versions, ranges at a past
 * revision, txn compares, compaction). It is a test double for the API layers, not the store.
 *
 * Keys are held as latin1 strings of their bytes, which sort exactly like the bytes do.
 */

interface Version {
  readonly kv: KeyValue;
  /** A delete: the key is absent from this revision on. */
  readonly tombstone: boolean;
}

/** One revision's changes. */
export interface RevisionEvents {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

const EMPTY = new Uint8Array(0);

/** The latin1 string form of a key, whose order is the bytes' order. */
export function keyText(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/** Whether `key` is inside etcd's range [start, end) (`end` absent: the single key; `\0`: all after). */
export function inRange(key: string, start: string, end: string | undefined): boolean {
  if (end === undefined) return key === start;
  if (end === '\0') return key >= start;
  return key >= start && key < end;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** A write in progress: every change of one request shares one revision. */
class WriteBatch {
  readonly events: WatchEvent[] = [];
  constructor(readonly revision: number) {}
}

/** See the module comment. */
export class TestingMvcc {
  private readonly history = new Map<string, Version[]>();
  private sorted: string[] = [];
  private sortedDirty = false;
  /** Changes by revision, from the compaction revision on, for watches. */
  private readonly log: RevisionEvents[] = [];
  revision = 1;
  compactRevision = 0;
  /** Writes applied (etcd's raft index grows with each). */
  writes = 0;

  constructor(
    private readonly header: (revision: number) => ResponseHeader,
    /** Whether a lease exists, for puts that attach one. */
    private readonly leaseExists: (id: number) => boolean,
  ) {}

  /** The changes of `revision`, or undefined when it has none or was compacted away. */
  eventsAt(revision: number): RevisionEvents | undefined {
    const first = this.log[0];
    if (first === undefined) return undefined;
    const entry = this.log[revision - first.revision];
    return entry?.revision === revision ? entry : undefined;
  }

  private keys(): string[] {
    if (this.sortedDirty) {
      this.sorted = [...this.history.keys()].sort();
      this.sortedDirty = false;
    }
    return this.sorted;
  }

  /** The live version of `key` at `revision`. */
  private at(key: string, revision: number): KeyValue | undefined {
    const versions = this.history.get(key);
    if (versions === undefined) return undefined;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i]!;
      if (v.kv.modRevision <= revision) return v.tombstone ? undefined : v.kv;
    }
    return undefined;
  }

  /** Live keys of a range at a revision, in key order. */
  private scan(key: Uint8Array, rangeEnd: Uint8Array | undefined, revision: number): KeyValue[] {
    const start = keyText(key);
    const end = rangeEnd === undefined ? undefined : keyText(rangeEnd);
    const out: KeyValue[] = [];
    if (end === undefined) {
      const kv = this.at(start, revision);
      return kv === undefined ? out : [kv];
    }
    const all = start === '\0' && end === '\0';
    for (const k of this.keys()) {
      if (!all && !inRange(k, start, end)) continue;
      const kv = this.at(k, revision);
      if (kv !== undefined) out.push(kv);
    }
    return out;
  }

  /** etcd's Range. */
  range(req: RangeRequest, batch?: WriteBatch): { kvs: KeyValue[]; more: boolean; count: number } {
    if (req.key.length === 0) throw new StoreError('emptyKey');
    const current = batch?.revision ?? this.revision;
    const rev = req.revision !== undefined && req.revision > 0 ? req.revision : current;
    if (rev > current) throw new StoreError('futureRev');
    if (rev < this.compactRevision) throw new StoreError('compacted');
    let kvs = this.scan(req.key, req.rangeEnd, rev);
    const count = kvs.length;
    if (req.countOnly === true) return { kvs: [], more: false, count };
    kvs = kvs.filter(
      (kv) =>
        (!req.minModRevision || kv.modRevision >= req.minModRevision) &&
        (!req.maxModRevision || kv.modRevision <= req.maxModRevision) &&
        (!req.minCreateRevision || kv.createRevision >= req.minCreateRevision) &&
        (!req.maxCreateRevision || kv.createRevision <= req.maxCreateRevision),
    );
    sortKvs(kvs, req);
    let more = false;
    if (req.limit !== undefined && req.limit > 0 && kvs.length > req.limit) {
      kvs = kvs.slice(0, req.limit);
      more = true;
    }
    if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { kvs, more, count };
  }

  private begin(): WriteBatch {
    return new WriteBatch(this.revision + 1);
  }

  /** Makes a batch's changes visible; a batch without changes leaves the revision alone. */
  private commit(batch: WriteBatch): void {
    this.writes++;
    if (batch.events.length === 0) return;
    this.revision = batch.revision;
    this.log.push({ revision: batch.revision, events: batch.events });
  }

  private record(key: string, version: Version): void {
    let versions = this.history.get(key);
    if (versions === undefined) {
      versions = [];
      this.history.set(key, versions);
      this.sortedDirty = true;
    }
    const last = versions[versions.length - 1];
    // Two writes to one key in one batch: the later replaces the earlier (etcd refuses those in
    // txns; a lease revoke never writes one key twice).
    if (last !== undefined && last.kv.modRevision === version.kv.modRevision) versions.pop();
    versions.push(version);
  }

  private putIn(batch: WriteBatch, req: PutRequest): { prevKv?: KeyValue } {
    if (req.key.length === 0) throw new StoreError('emptyKey');
    const key = keyText(req.key);
    const prev = this.at(key, batch.revision);
    if ((req.ignoreValue === true || req.ignoreLease === true) && prev === undefined)
      throw new StoreError('keyNotFound');
    if (req.ignoreValue === true && req.value.length > 0) throw new StoreError('valueProvided');
    if (req.ignoreLease === true && (req.lease ?? 0) !== 0) throw new StoreError('leaseProvided');
    const lease = req.ignoreLease === true ? prev!.lease : (req.lease ?? 0);
    if (lease !== 0 && !this.leaseExists(lease)) throw new StoreError('leaseNotFound');
    const kv: KeyValue = {
      key: Uint8Array.from(req.key),
      value: req.ignoreValue === true ? prev!.value : Uint8Array.from(req.value),
      createRevision: prev?.createRevision ?? batch.revision,
      modRevision: batch.revision,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    this.record(key, { kv, tombstone: false });
    batch.events.push(prev === undefined ? { type: 'put', kv } : { type: 'put', kv, prevKv: prev });
    return req.prevKv === true && prev !== undefined ? { prevKv: prev } : {};
  }

  private deleteIn(batch: WriteBatch, req: DeleteRangeRequest): { deleted: number; prevKvs: KeyValue[] } {
    if (req.key.length === 0) throw new StoreError('emptyKey');
    const victims = this.scan(req.key, req.rangeEnd, batch.revision);
    for (const prev of victims) {
      const key = keyText(prev.key);
      const kv: KeyValue = {
        key: prev.key,
        value: EMPTY,
        createRevision: 0,
        modRevision: batch.revision,
        version: 0,
        lease: 0,
      };
      this.record(key, { kv, tombstone: true });
      batch.events.push({ type: 'delete', kv, prevKv: prev });
    }
    return { deleted: victims.length, prevKvs: req.prevKv === true ? victims : [] };
  }

  /** etcd's Put. */
  put(req: PutRequest): { prevKv?: KeyValue } {
    const batch = this.begin();
    const out = this.putIn(batch, req);
    this.commit(batch);
    return out;
  }

  /** etcd's DeleteRange. */
  deleteRange(req: DeleteRangeRequest): { deleted: number; prevKvs: KeyValue[] } {
    const batch = this.begin();
    const out = this.deleteIn(batch, req);
    this.commit(batch);
    return out;
  }

  /** Live keys attached to lease `id`, in key order. */
  keysWithLease(id: number): string[] {
    return this.keys().filter((k) => this.at(k, this.revision)?.lease === id);
  }

  /** Deletes the keys of a revoked lease, in one revision. */
  deleteKeys(keys: readonly string[]): void {
    const batch = this.begin();
    for (const k of keys) {
      const key = Buffer.from(k, 'latin1');
      this.deleteIn(batch, { key });
    }
    this.commit(batch);
  }

  /** etcd's Txn: compares at the current revision, then one branch, all under one revision. */
  txn(req: TxnRequest): { succeeded: boolean; responses: ResponseOp[] } {
    checkTxn(req);
    const batch = this.begin();
    const succeeded = req.compare.every((c) => this.compare(c, batch));
    // Validate the chosen branch fully before changing anything, so a failing op leaves no trace.
    const snapshot = this.checkpoint();
    try {
      const responses = this.runOps(succeeded ? req.success : req.failure, batch);
      this.commit(batch);
      return { succeeded, responses };
    } catch (err) {
      this.rollback(snapshot);
      throw err;
    }
  }

  private runOps(ops: readonly RequestOp[], batch: WriteBatch): ResponseOp[] {
    return ops.map((op): ResponseOp => {
      const header = this.header(batch.revision);
      if ('range' in op) return { range: { header, ...this.range(op.range, batch) } };
      if ('put' in op) return { put: { header, ...this.putIn(batch, op.put) } };
      if ('deleteRange' in op) return { deleteRange: { header, ...this.deleteIn(batch, op.deleteRange) } };
      const inner = op.txn;
      const succeeded = inner.compare.every((c) => this.compare(c, batch));
      const responses = this.runOps(succeeded ? inner.success : inner.failure, batch);
      return { txn: { header, succeeded, responses } };
    });
  }

  private compare(c: Compare, batch: WriteBatch): boolean {
    const kvs = this.scan(c.key, c.rangeEnd, batch.revision);
    if (kvs.length === 0) {
      if (c.target === 'value') return false;
      return compareOne(c, {
        key: c.key,
        value: EMPTY,
        createRevision: 0,
        modRevision: 0,
        version: 0,
        lease: 0,
      });
    }
    return kvs.every((kv) => compareOne(c, kv));
  }

  private checkpoint(): { history: Map<string, Version[]> } {
    return { history: new Map([...this.history].map(([k, v]) => [k, [...v]])) };
  }

  private rollback(snapshot: { history: Map<string, Version[]> }): void {
    this.history.clear();
    for (const [k, v] of snapshot.history) this.history.set(k, v);
    this.sortedDirty = true;
  }

  /** etcd's Compact: forgets versions older than `revision` (keeping each key's live one). */
  compact(revision: number): void {
    if (revision <= this.compactRevision) throw new StoreError('compacted');
    if (revision > this.revision) throw new StoreError('futureRev');
    for (const [key, versions] of this.history) {
      let keepFrom = 0;
      for (let i = 0; i < versions.length; i++) if (versions[i]!.kv.modRevision <= revision) keepFrom = i;
      const kept = versions.slice(keepFrom);
      if (kept[0]?.tombstone === true && kept[0].kv.modRevision <= revision) kept.shift();
      if (kept.length === 0) {
        this.history.delete(key);
        this.sortedDirty = true;
      } else this.history.set(key, kept);
    }
    while (this.log.length > 0 && this.log[0]!.revision < revision) this.log.shift();
    this.compactRevision = revision;
    this.writes++;
  }

  /** A rough byte count, for Status's dbSize. */
  sizeBytes(): number {
    let n = 0;
    for (const versions of this.history.values())
      for (const v of versions) n += v.kv.key.length + v.kv.value.length + 48;
    return n;
  }
}

function sortKvs(kvs: KeyValue[], req: RangeRequest): void {
  const target = req.sortTarget ?? 'key';
  let order = req.sortOrder ?? 'none';
  // etcd: a target other than the key with no order sorts ascending.
  if (order === 'none' && target !== 'key') order = 'ascend';
  if (order === 'none') return;
  const by = (a: KeyValue, b: KeyValue): number => {
    switch (target) {
      case 'key':
        return compareBytes(a.key, b.key);
      case 'version':
        return a.version - b.version;
      case 'create':
        return a.createRevision - b.createRevision;
      case 'mod':
        return a.modRevision - b.modRevision;
      case 'value':
        return compareBytes(a.value, b.value);
    }
  };
  kvs.sort((a, b) => (order === 'descend' ? by(b, a) : by(a, b)));
}

function compareOne(c: Compare, kv: KeyValue): boolean {
  let diff: number;
  if (c.target === 'value') {
    if (!(c.value instanceof Uint8Array))
      throw new StoreError('invalidArgument', 'a value compare needs bytes');
    diff = compareBytes(kv.value, c.value);
  } else {
    if (typeof c.value !== 'number')
      throw new StoreError('invalidArgument', `a ${c.target} compare needs a number`);
    const mine = { version: kv.version, create: kv.createRevision, mod: kv.modRevision, lease: kv.lease }[
      c.target
    ];
    diff = mine - c.value;
  }
  switch (c.result) {
    case 'equal':
      return diff === 0;
    case 'notEqual':
      return diff !== 0;
    case 'greater':
      return diff > 0;
    case 'less':
      return diff < 0;
  }
}

/** etcd's txn checks: no key written twice in one branch (puts, and puts inside deletes). */
function checkTxn(req: TxnRequest): void {
  for (const branch of [req.success, req.failure]) {
    const puts = new Set<string>();
    const dels: [string, string | undefined][] = [];
    for (const op of branch) {
      if ('put' in op) {
        const k = keyText(op.put.key);
        if (puts.has(k)) throw new StoreError('duplicateKey');
        puts.add(k);
      } else if ('deleteRange' in op) {
        const end = op.deleteRange.rangeEnd;
        dels.push([keyText(op.deleteRange.key), end === undefined ? undefined : keyText(end)]);
      } else if ('txn' in op) checkTxn(op.txn);
    }
    for (const k of puts)
      for (const [s, e] of dels) if (inRange(k, s, e)) throw new StoreError('duplicateKey');
  }
}
