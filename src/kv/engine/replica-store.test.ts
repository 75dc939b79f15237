/**
 * ReplicaStore on MemoryStorage, SimDisk (crashes) and LevelStorage (a temporary directory):
 * LWW merges, group commits, token-range scans against an oracle, TTLs, tombstones, purging after
 * the grace period (and not racing a new write), corrupt cells, durability with and without sync.
 * Run: node --import tsx --test src/kv/engine/replica-store.test.ts
 * Randomized tests print `seed=...`; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type BatchOp,
  bytesEqual,
  compareBytes,
  isCairnError,
  type KeyRange,
  ManualClock,
  Rng,
  type Storage,
  utf8,
} from '../../core/index.js';
import { MemoryStorage, SimDisk } from '../../sim/disk.js';
import { LevelStorage } from '../../storage/level.js';
import { isKvError } from '../errors.js';
import { inTokenRange, MAX_TOKEN, tokenOf } from '../ring/partitioner.js';
import type { Cell, TokenRange, Version } from '../types.js';
import { dataKey } from './layout.js';
import { encodeCell, ReplicaStore, type ScanEntry, type ScanPosition } from './replica-store.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const replay = `FC_SEED=${seed} node --import tsx --test src/kv/engine/replica-store.test.ts`;

const v = (wall: number, logical = 0, node = 1): Version => ({ wall, logical, node });
const put = (wall: number, value: string, extra: Partial<Cell> = {}): Cell => ({
  version: v(wall),
  value: utf8(value),
  ...extra,
});
const del = (wall: number): Cell => ({ version: v(wall), value: undefined });

/** One generated write: key number, version (wall, node) and whether it deletes. */
interface ModelOp {
  readonly key: number;
  readonly wall: number;
  readonly node: number;
  readonly tomb: boolean;
}

/**
 * The cell of `op`, merged into `model` as last-write-wins does (at equal versions the tombstone
 * wins; values of one version are equal here).
 */
function modelWrite(model: Map<number, Cell>, op: ModelOp): Cell {
  const cell: Cell = {
    version: { wall: op.wall, logical: 0, node: op.node },
    value: op.tomb ? undefined : utf8(`${op.wall}/${op.node}`),
  };
  const prev = model.get(op.key);
  const cmp =
    prev === undefined ? 1 : cell.version.wall - prev.version.wall || cell.version.node - prev.version.node;
  if (cmp > 0 || (cmp === 0 && cell.value === undefined)) model.set(op.key, cell);
  return cell;
}

/** Generated writes for {@link modelWrite}: keys 0..maxKey, walls 0..maxWall, three nodes. */
function modelOps(maxKey: number, maxWall: number) {
  return fc.record({
    key: fc.integer({ min: 0, max: maxKey }),
    wall: fc.integer({ min: 0, max: maxWall }),
    node: fc.integer({ min: 0, max: 2 }),
    tomb: fc.boolean(),
  });
}

/** A storage that counts batches and can run a hook when an iteration ends. */
class Spy implements Storage {
  batches: { ops: number; sync: boolean }[] = [];
  gets = 0;
  /** Batches still to fail (with an I/O error) before they succeed again. */
  failBatches = 0;
  onIterationEnd: (() => void) | undefined;
  constructor(readonly inner: Storage) {}
  get(key: Uint8Array) {
    this.gets++;
    return this.inner.get(key);
  }
  async batch(ops: readonly BatchOp[], options?: { sync?: boolean }) {
    if (this.failBatches > 0) {
      this.failBatches--;
      throw new Error('injected batch failure');
    }
    this.batches.push({ ops: ops.length, sync: options?.sync === true });
    await this.inner.batch(ops, options);
  }
  iterator(range?: KeyRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    const spy = this;
    return {
      async *[Symbol.asyncIterator]() {
        yield* spy.inner.iterator(range);
        const hook = spy.onIterationEnd;
        spy.onIterationEnd = undefined;
        hook?.();
      },
    };
  }
  close() {
    return this.inner.close();
  }
}

interface Backend {
  name: string;
  make(): Promise<{ storage: Storage; cleanup(): Promise<void> }>;
}

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const backends: Backend[] = [
  { name: 'memory', make: async () => ({ storage: new MemoryStorage(), cleanup: async () => undefined }) },
  { name: 'simdisk', make: async () => ({ storage: new SimDisk(), cleanup: async () => undefined }) },
  {
    name: 'level',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cairn-kv-'));
      dirs.push(dir);
      const storage = await LevelStorage.open(dir);
      return { storage, cleanup: () => storage.close() };
    },
  },
];

function clockwiseKey(range: TokenRange, e: { token: bigint; key: Uint8Array }): [bigint, Uint8Array] {
  // Position clockwise from the range start, so wrapping ranges sort as the scan returns them.
  const offset = (e.token - range.start - 1n + (1n << 64n)) % (1n << 64n);
  return [offset, e.key];
}

async function scanAll(store: ReplicaStore, range: TokenRange, limit: number): Promise<ScanEntry[]> {
  const out: ScanEntry[] = [];
  let after: ScanPosition | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.scan(range, after === undefined ? { limit } : { after, limit });
    assert.ok(page.entries.length <= limit);
    out.push(...page.entries);
    if (page.next === undefined) return out;
    after = page.next;
  }
  throw new Error('scan did not finish in 10,000 pages');
}

for (const backend of backends) {
  describe(`ReplicaStore on ${backend.name}`, () => {
    it('keeps the last write by version and returns the stored cell per write', async () => {
      const { storage, cleanup } = await backend.make();
      try {
        const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
        const k = utf8('k');
        assert.equal(await store.get(k), undefined);
        assert.deepEqual(await store.apply([{ key: k, cell: put(10, 'a') }]), [put(10, 'a')]);
        // An older write loses; the call still resolves with what is stored.
        assert.deepEqual(await store.apply([{ key: k, cell: put(5, 'old') }]), [put(10, 'a')]);
        assert.deepEqual(await store.get(k), put(10, 'a'));
        assert.deepEqual(await store.apply([{ key: k, cell: del(11) }]), [del(11)]);
        assert.deepEqual(await store.apply([{ key: k, cell: put(10, 'again') }]), [del(11)]);
        assert.deepEqual(await store.get(k), del(11));
        assert.equal(store.approximateCount(), 0);
      } finally {
        await cleanup();
      }
    });

    it(`scans token ranges clockwise, paged, exactly as the oracle (seed=${seed}; ${replay})`, async () => {
      const { storage, cleanup } = await backend.make();
      try {
        const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
        const rng = Rng.fromSeed(seed);
        const entries = Array.from({ length: 300 }, (_, i) => {
          const key = utf8(`key-${i}`);
          return { key, token: tokenOf(key), cell: i % 7 === 0 ? del(i + 1) : put(i + 1, `v${i}`) };
        });
        await store.apply(entries.map((e) => ({ key: e.key, cell: e.cell })));
        const sorted = [...entries].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
        const pickToken = () =>
          rng.chance(0.3)
            ? sorted[rng.int(sorted.length)]!.token
            : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
        const ranges: TokenRange[] = [
          { start: 0n, end: 0n },
          { start: MAX_TOKEN, end: MAX_TOKEN },
          { start: sorted[5]!.token, end: sorted[5]!.token },
        ];
        for (let i = 0; i < 12; i++) ranges.push({ start: pickToken(), end: pickToken() });
        for (const range of ranges) {
          const expected = entries
            .filter((e) => inTokenRange(e.token, range))
            .sort((a, b) => {
              const [oa, ka] = clockwiseKey(range, a);
              const [ob, kb] = clockwiseKey(range, b);
              return oa !== ob ? (oa < ob ? -1 : 1) : compareBytes(ka, kb);
            });
          for (const limit of [1, 7, 1000]) {
            const got = await scanAll(store, range, limit);
            assert.deepEqual(
              got.map((e) => [e.token, e.key, e.cell]),
              expected.map((e) => [e.token, e.key, e.cell]),
              `range (${range.start}, ${range.end}] limit ${limit}`,
            );
          }
        }
        assert.equal(store.approximateCount(), entries.filter((e) => e.cell.value !== undefined).length);
      } finally {
        await cleanup();
      }
    });

    it('purges tombstones and expired values past the grace period only', async () => {
      const { storage, cleanup } = await backend.make();
      try {
        const clock = new ManualClock(1_000_000);
        const store = await ReplicaStore.open({ storage, clock, gcGraceMs: 1_000 });
        await store.apply([
          { key: utf8('old-tomb'), cell: del(900_000) },
          { key: utf8('new-tomb'), cell: del(999_500) },
          { key: utf8('expired'), cell: put(1, 'x', { expiresAt: 998_000 }) },
          { key: utf8('expiring'), cell: put(1, 'x', { expiresAt: 999_500 }) },
          { key: utf8('live'), cell: put(1, 'x') },
        ]);
        assert.equal(store.approximateCount(), 3);
        assert.equal(await store.purge(), 2);
        assert.equal(await store.get(utf8('old-tomb')), undefined);
        assert.equal(await store.get(utf8('expired')), undefined);
        assert.ok((await store.get(utf8('new-tomb'))) !== undefined);
        assert.equal(store.approximateCount(), 2);
        clock.advance(1_000);
        assert.equal(await store.purge(), 2);
        assert.equal((await scanAll(store, { start: 0n, end: 0n }, 10)).length, 1);
        assert.equal(store.stats().purged, 4);
      } finally {
        await cleanup();
      }
    });

    it('never purges a write that arrives after the purge scanned its key', async () => {
      const { storage: inner, cleanup } = await backend.make();
      try {
        const storage = new Spy(inner);
        const clock = new ManualClock(1_000_000);
        const store = await ReplicaStore.open({ storage, clock, gcGraceMs: 10 });
        const k = utf8('k');
        await store.apply([{ key: k, cell: del(1) }]);
        let late: Promise<Cell[]> | undefined;
        storage.onIterationEnd = () => {
          late = store.apply([{ key: k, cell: put(2, 'back') }]);
        };
        assert.equal(await store.purge(), 0);
        assert.ok(late !== undefined);
        await late;
        assert.deepEqual(await store.get(k), put(2, 'back'));
      } finally {
        await cleanup();
      }
    });

    it('reports a corrupt stored cell without crashing, and a write repairs it', async () => {
      const { storage, cleanup } = await backend.make();
      try {
        const k = utf8('broken');
        // Written around the store, before it opens (its key filter reads what is stored then).
        await storage.batch([{ type: 'put', key: dataKey(tokenOf(k), k), value: Uint8Array.of(9, 9, 9) }]);
        const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
        await store.apply([{ key: utf8('fine'), cell: put(1, 'ok') }]);
        await assert.rejects(store.get(k), (e) => isCairnError(e, 'DECODE_FAILED'));
        const all = await scanAll(store, { start: 0n, end: 0n }, 1);
        assert.deepEqual(
          all.map((e) => e.key),
          [utf8('fine')],
        );
        const tree = await store.merkle({ start: 0n, end: 0n }, 4);
        assert.ok(tree.root().some((b) => b !== 0));
        assert.deepEqual(await store.apply([{ key: k, cell: put(5, 'fixed') }]), [put(5, 'fixed')]);
        assert.deepEqual(await store.get(k), put(5, 'fixed'));
        assert.ok(store.stats().corruptCells >= 2);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('ReplicaStore group commit and limits', () => {
  it('merges concurrent writes to one key in call order within one batch', async () => {
    const storage = new Spy(new MemoryStorage());
    const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
    const k = utf8('k');
    const calls = [3, 9, 1, 7].map((w) => store.apply([{ key: k, cell: put(w, `w${w}`) }]));
    const results = (await Promise.all(calls)).map((r) => r[0]!.version.wall);
    // Each write sees the merge of everything before it in call order.
    assert.deepEqual(results, [3, 9, 9, 9]);
    assert.deepEqual(await store.get(k), put(9, 'w9'));
    assert.equal(storage.batches.length, 1);
    assert.equal(storage.batches[0]!.sync, true);
  });

  it('keeps two keys apart in one group when their cache hashes collide', async () => {
    // A group finds its slots by the low 32 bits of the key's token; these two keys share them.
    const [a, b] = [utf8('collide:2031'), utf8('collide:36124')];
    assert.equal(tokenOf(a) & 0xffffffffn, tokenOf(b) & 0xffffffffn);
    assert.notEqual(tokenOf(a), tokenOf(b));
    const storage = new Spy(new MemoryStorage());
    const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
    const calls = [
      store.apply([{ key: a, cell: put(5, 'a5') }]),
      store.apply([{ key: b, cell: put(3, 'b3') }]),
      store.apply([{ key: a, cell: put(4, 'a4') }]),
      store.apply([{ key: b, cell: put(6, 'b6') }]),
    ];
    const walls = (await Promise.all(calls)).map((r) => r[0]!.version.wall);
    assert.deepEqual(walls, [5, 3, 5, 6]);
    assert.equal(storage.batches.length, 1);
    assert.deepEqual(await store.get(a), put(5, 'a5'));
    assert.deepEqual(await store.get(b), put(6, 'b6'));
    assert.equal(store.approximateCount(), 2);
    // And again in a later group, now through the version cache, which both keys share a set of.
    const [a2, b2] = await Promise.all([
      store.apply([{ key: a, cell: put(7, 'a7') }]),
      store.apply([{ key: b, cell: put(2, 'b2') }]),
    ]);
    assert.deepEqual([a2![0]!.version.wall, b2![0]!.version.wall], [7, 6]);
    assert.deepEqual(await store.get(a), put(7, 'a7'));
    assert.deepEqual(await store.get(b), put(6, 'b6'));
    assert.equal(store.approximateCount(), 2);
  });

  it('groups writes that arrive during a flush into the next batch', async () => {
    const storage = new Spy(new MemoryStorage());
    const store = await ReplicaStore.open({ storage, clock: new ManualClock(), sync: false });
    const first = store.apply([{ key: utf8('a'), cell: put(1, 'a') }]);
    await Promise.resolve();
    await Promise.resolve();
    const rest = Array.from({ length: 50 }, (_, i) =>
      store.apply([{ key: utf8(`k${i}`), cell: put(1, 'x') }]),
    );
    await Promise.all([first, ...rest]);
    assert.ok(storage.batches.length <= 2, `${storage.batches.length} batches`);
    assert.ok(storage.batches.every((b) => !b.sync));
    assert.equal(store.approximateCount(), 51);
  });

  it('splits a large group at maxGroupWrites and rejects past maxPendingWrites', async () => {
    const storage = new Spy(new MemoryStorage());
    const store = await ReplicaStore.open({
      storage,
      clock: new ManualClock(),
      limits: { maxGroupWrites: 10, maxPendingWrites: 30 },
    });
    const writes = Array.from({ length: 25 }, (_, i) => ({ key: utf8(`k${i}`), cell: put(1, 'x') }));
    const ok = store.apply(writes);
    await assert.rejects(store.apply(writes), (e) => isCairnError(e, 'LIMIT_EXCEEDED'));
    await ok;
    assert.equal(storage.batches.length, 3);
  });

  it('refuses malformed writes with INVALID_ARGUMENT and applies none of the call', async () => {
    const store = await ReplicaStore.open({
      storage: new MemoryStorage(),
      clock: new ManualClock(),
      limits: { maxValueBytes: 4, maxKeyBytes: 8 },
    });
    const bad: { key: Uint8Array; cell: Cell }[] = [
      { key: new Uint8Array(0), cell: put(1, 'x') },
      { key: utf8('123456789'), cell: put(1, 'x') },
      { key: utf8('k'), cell: put(1, 'too long') },
      { key: utf8('k'), cell: { version: v(-1), value: undefined } },
      { key: utf8('k'), cell: put(1, 'x', { expiresAt: 1.5 }) },
    ];
    for (const w of bad) {
      await assert.rejects(store.apply([{ key: utf8('ok'), cell: put(1, 'y') }, w]), (e) =>
        isKvError(e, 'INVALID_ARGUMENT'),
      );
    }
    assert.equal(await store.get(utf8('ok')), undefined);
    await assert.rejects(store.scan({ start: 0n, end: 1n }, { limit: 0 }), (e) =>
      isCairnError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(store.scan({ start: 0n, end: 1n }, { limit: 1, after: utf8('x') }), (e) =>
      isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('drains queued writes on close, then refuses calls', async () => {
    const storage = new MemoryStorage();
    const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
    const pending = store.apply([{ key: utf8('k'), cell: put(1, 'x') }]);
    await store.close();
    await pending;
    await assert.rejects(store.apply([{ key: utf8('k'), cell: put(2, 'y') }]), (e) =>
      isCairnError(e, 'CLOSED'),
    );
    const reopened = await ReplicaStore.open({ storage, clock: new ManualClock() });
    assert.deepEqual(await reopened.get(utf8('k')), put(1, 'x'));
    assert.equal(reopened.approximateCount(), 1);
  });
});

describe('ReplicaStore durability on SimDisk', () => {
  it('keeps acknowledged writes across a crash with sync, and may lose them without', async () => {
    const disk = new SimDisk();
    const synced = await ReplicaStore.open({ storage: disk, clock: new ManualClock() });
    await synced.apply([{ key: utf8('a'), cell: put(1, 'x') }]);
    disk.crash();
    disk.reopen();
    const after1 = await ReplicaStore.open({ storage: disk, clock: new ManualClock(), sync: false });
    assert.deepEqual(await after1.get(utf8('a')), put(1, 'x'));
    assert.equal(after1.approximateCount(), 1);
    await after1.apply([{ key: utf8('b'), cell: put(1, 'y') }]);
    disk.crash();
    disk.reopen();
    const after2 = await ReplicaStore.open({ storage: disk, clock: new ManualClock() });
    assert.equal(await after2.get(utf8('b')), undefined);
    assert.equal(after2.approximateCount(), 1);
  });
});

describe('ReplicaStore durability on LevelStorage', () => {
  it('reads its cells and count back after the database is closed and reopened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-kv-'));
    dirs.push(dir);
    let storage = await LevelStorage.open(dir);
    const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
    await store.apply([
      { key: utf8('a'), cell: put(1, 'x', { expiresAt: 5_000_000 }) },
      { key: utf8('b'), cell: del(2) },
    ]);
    await store.close();
    await storage.close();
    storage = await LevelStorage.open(dir);
    try {
      const again = await ReplicaStore.open({ storage, clock: new ManualClock() });
      assert.deepEqual(await again.get(utf8('a')), put(1, 'x', { expiresAt: 5_000_000 }));
      assert.deepEqual(await again.get(utf8('b')), del(2));
      assert.equal(again.approximateCount(), 1);
    } finally {
      await storage.close();
    }
  });
});

describe('ReplicaStore against a model', () => {
  it(`converges to the per-key maximum for random concurrent writes (seed=${seed}; ${replay})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            key: fc.integer({ min: 0, max: 5 }),
            wall: fc.integer({ min: 0, max: 20 }),
            node: fc.integer({ min: 0, max: 2 }),
            tomb: fc.boolean(),
            split: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        async (ops) => {
          const store = await ReplicaStore.open({ storage: new MemoryStorage(), clock: new ManualClock() });
          const model = new Map<number, Cell>();
          const calls: Promise<Cell[]>[] = [];
          let batch: { key: Uint8Array; cell: Cell }[] = [];
          for (const op of ops) {
            const cell = modelWrite(model, op);
            batch.push({ key: utf8(`k${op.key}`), cell });
            if (op.split) {
              calls.push(store.apply(batch));
              batch = [];
            }
          }
          calls.push(store.apply(batch));
          await Promise.all(calls);
          for (let k = 0; k <= 5; k++) {
            const got = await store.get(utf8(`k${k}`));
            const want = model.get(k);
            assert.deepEqual(got, want);
          }
          const live = [...model.values()].filter((c) => c.value !== undefined).length;
          assert.equal(store.approximateCount(), live);
        },
      ),
      { seed, numRuns: 100 },
    );
  });
});

describe('ReplicaStore version cache', () => {
  it('skips the read for a write newer than the cell it stored, and reads for any other', async () => {
    const storage = new Spy(new MemoryStorage());
    // Without the key filter, which would skip the first read of every key here.
    const store = await ReplicaStore.open({
      storage,
      clock: new ManualClock(),
      limits: { keyFilterBits: 1 },
    });
    storage.gets = 0; // the count's load
    const k = utf8('k');
    await store.apply([{ key: k, cell: put(5, 'a') }]);
    assert.equal(storage.gets, 1); // never stored by this store: read
    await store.apply([{ key: k, cell: put(6, 'b') }]);
    assert.equal(storage.gets, 1);
    assert.equal(store.stats().readsSkipped, 1);
    // Older and equal versions need the stored cell (the equal one breaks the tie by value).
    assert.deepEqual(await store.apply([{ key: k, cell: put(4, 'old') }]), [put(6, 'b')]);
    assert.equal(storage.gets, 2);
    assert.deepEqual(await store.apply([{ key: k, cell: put(6, 'c') }]), [put(6, 'c')]);
    assert.equal(storage.gets, 3);
    // A group whose second write to the key is not newer than the cached version reads it.
    assert.deepEqual(
      await store.apply([
        { key: k, cell: put(9, 'x') },
        { key: k, cell: put(3, 'y') },
      ]),
      [put(9, 'x'), put(9, 'x')],
    );
    assert.equal(storage.gets, 4);
    assert.equal(store.stats().readsSkipped, 1);
    // Deletes and rewrites keep the value count exact without reads.
    await store.apply([{ key: k, cell: del(10) }]);
    assert.equal(store.approximateCount(), 0);
    await store.apply([{ key: k, cell: put(11, 'again') }]);
    assert.equal(store.approximateCount(), 1);
    assert.equal(storage.gets, 4);
    assert.deepEqual(await store.get(k), put(11, 'again'));
  });

  it('purges through a read, and forgets what a failed batch may have written', async () => {
    const clock = new ManualClock();
    const storage = new Spy(new MemoryStorage());
    const store = await ReplicaStore.open({ storage, clock, gcGraceMs: 10, limits: { keyFilterBits: 1 } });
    const k = utf8('k');
    await store.apply([{ key: k, cell: del(1) }]);
    clock.advance(100);
    assert.equal(await store.purge(), 1);
    const before = storage.gets;
    await store.apply([{ key: k, cell: put(2, 'new') }]);
    assert.equal(storage.gets, before + 1); // the purge's delete was not taken for a stored cell
    assert.equal(store.approximateCount(), 1);
    storage.failBatches = 1;
    await assert.rejects(store.apply([{ key: k, cell: put(3, 'lost?') }]));
    await store.apply([{ key: k, cell: put(4, 'next') }]);
    assert.equal(storage.gets, before + 2);
    assert.deepEqual(await store.get(k), put(4, 'next'));
    assert.equal(store.approximateCount(), 1);
  });

  it(`matches the model when a tiny cache evicts between groups (seed=${seed}; ${replay})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(modelOps(7, 30), { maxLength: 6 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        async (groups, entries) => {
          const clock = new ManualClock();
          const store = await ReplicaStore.open({
            storage: new MemoryStorage(),
            clock,
            gcGraceMs: 1_000,
            limits: { versionCacheEntries: entries },
          });
          const model = new Map<number, Cell>();
          for (const ops of groups) {
            const batch = ops.map((op) => ({ key: utf8(`k${op.key}`), cell: modelWrite(model, op) }));
            await store.apply(batch);
            const live = [...model.values()].filter((c) => c.value !== undefined).length;
            assert.equal(store.approximateCount(), live);
          }
          for (let k = 0; k <= 7; k++) assert.deepEqual(await store.get(utf8(`k${k}`)), model.get(k));
          // Purge every tombstone, then write each key once more: counts stay exact.
          clock.advance(10_000);
          await store.purge();
          for (const [k, c] of model) if (c.value === undefined) model.delete(k);
          await store.apply([{ key: utf8('k0'), cell: put(1_000, 'end') }]);
          model.set(0, put(1_000, 'end'));
          const live = [...model.values()].filter((c) => c.value !== undefined).length;
          assert.equal(store.approximateCount(), live);
          for (let k = 0; k <= 7; k++) assert.deepEqual(await store.get(utf8(`k${k}`)), model.get(k));
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});

/** Waits (a bounded number of event-loop turns) until `store`'s key filter answers. */
async function filterReady(store: ReplicaStore): Promise<void> {
  for (let i = 0; i < 1_000 && !store.stats().keyFilterReady; i++) await new Promise((r) => setImmediate(r));
  assert.equal(store.stats().keyFilterReady, true);
}

describe('ReplicaStore key filter', () => {
  it('reads no key it never stored, and every key stored before it opened', async () => {
    const storage = new Spy(new MemoryStorage());
    const early = utf8('early');
    await storage.batch([
      { type: 'put', key: dataKey(tokenOf(early), early), value: encodeCell(put(9, 'kept')) },
    ]);
    const store = await ReplicaStore.open({ storage, clock: new ManualClock() });
    await filterReady(store);
    storage.gets = 0;
    const fresh = ['a', 'b', 'c', 'd'].map(utf8);
    await store.apply(fresh.map((key, i) => ({ key, cell: put(i + 1, 'v') })));
    assert.equal(await store.get(utf8('never')), undefined);
    assert.equal(storage.gets, 0);
    assert.equal(store.stats().readsAbsent, 5);
    // A key in storage before the store opened is read: an older write does not replace it.
    assert.deepEqual(await store.apply([{ key: early, cell: put(3, 'older') }]), [put(9, 'kept')]);
    assert.deepEqual(await store.get(early), put(9, 'kept'));
    assert.equal(storage.gets, 2);
    // A key it stored is read again when the version cache cannot answer (an older write).
    assert.deepEqual(await store.apply([{ key: fresh[0]!, cell: put(0, 'older') }]), [put(1, 'v')]);
    assert.equal(storage.gets, 3);
    assert.equal(store.stats().readsAbsent, 5);
  });

  it(`matches the model while writes race the filter's builds and stores reopen (seed=${seed}; ${replay})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            reopen: fc.boolean(),
            calls: fc.array(fc.array(modelOps(40, 30), { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
          }),
          { maxLength: 10 },
        ),
        async (rounds) => {
          const storage = new MemoryStorage();
          // 256 bits at most: the first filter is 64 bits, full past 6 keys, so builds keep racing.
          const open = () =>
            ReplicaStore.open({
              storage,
              clock: new ManualClock(),
              limits: { keyFilterBits: 256, versionCacheEntries: 4 },
            });
          let store = await open();
          const model = new Map<number, Cell>();
          for (const round of rounds) {
            if (round.reopen) {
              await store.close();
              store = await open();
            }
            // Calls made together: they group, and they start while a build may be scanning.
            await Promise.all(
              round.calls.map((ops) =>
                store.apply(ops.map((op) => ({ key: utf8(`k${op.key}`), cell: modelWrite(model, op) }))),
              ),
            );
            const live = [...model.values()].filter((c) => c.value !== undefined).length;
            assert.equal(store.approximateCount(), live);
          }
          for (let k = 0; k <= 40; k++) assert.deepEqual(await store.get(utf8(`k${k}`)), model.get(k));
        },
      ),
      { seed, numRuns: 150 },
    );
  });
});

describe('scan positions', () => {
  it('resumes exactly after the returned position even when keys share a token prefix', async () => {
    const store = await ReplicaStore.open({ storage: new MemoryStorage(), clock: new ManualClock() });
    const keys = ['a', 'aa', 'ab', 'b', 'ba'].map(utf8);
    await store.apply(keys.map((key) => ({ key, cell: put(1, 'x') })));
    const got = await scanAll(store, { start: 0n, end: 0n }, 2);
    assert.equal(got.length, keys.length);
    for (const k of keys) assert.ok(got.some((e) => bytesEqual(e.key, k)));
  });
});
