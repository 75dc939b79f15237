/**
 * The segment log store, run on the real filesystem (a temporary directory) and on SimFiles.
 * Run: node --import tsx --test src/raft/log/segment-log.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CairnError, Rng } from '../../core/index.js';
import { SimFiles } from '../../sim/files.js';
import { isRaftError } from '../errors.js';
import type { Entry, HardState, Snapshot } from '../types.js';
import type { LogFiles } from './files.js';
import type { LogLimits } from './limits.js';
import { NodeLogFiles } from './node-files.js';
import { SegmentLogStore } from './segment-log.js';

/** A log directory that can be reopened, read and rewritten byte for byte. */
interface Env {
  files: LogFiles;
  /** The same directory after a clean restart. */
  restart(): Promise<LogFiles>;
  raw(name: string): Promise<Uint8Array>;
  /** Replaces a file's content durably (to forge torn or rotted files). */
  setRaw(name: string, bytes: Uint8Array): Promise<void>;
}

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const envs: Record<string, () => Promise<Env>> = {
  node: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-raftlog-'));
    dirs.push(dir);
    return {
      files: await NodeLogFiles.open(dir),
      restart: () => NodeLogFiles.open(dir),
      raw: async (name) => new Uint8Array(await readFile(join(dir, name))),
      setRaw: (name, bytes) => writeFile(join(dir, name), bytes),
    };
  },
  sim: async () => {
    const files = new SimFiles({ rng: Rng.fromSeed(7) });
    return {
      files,
      restart: async () => {
        files.shutdown();
        files.reopen();
        return files;
      },
      raw: async (name) => files.peek(name) ?? new Uint8Array(0),
      setRaw: async (name, bytes) => {
        const f = await files.open(name);
        await f.truncate(0);
        await f.append(bytes);
        await f.sync();
      },
    };
  },
};

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: index % 7 === 0 ? 'conf' : 'normal', data: new TextEncoder().encode(text) };
}

export function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });

function snapshot(index: number, term: number, text = 'image'): Snapshot {
  return {
    meta: { index, term, confState: { voters: [1, 2, 3], learners: [4] } },
    data: new TextEncoder().encode(text),
  };
}

async function reopen(env: Env, store: SegmentLogStore, limits: Partial<LogLimits> = {}) {
  await store.close();
  const next = await SegmentLogStore.open({ files: await env.restart(), limits });
  return { store: next, state: await next.load() };
}

async function lastSegment(env: Env): Promise<string> {
  const names = (await env.files.list()).filter((n) => n.endsWith('.wal'));
  return names[names.length - 1]!;
}

for (const [name, makeEnv] of Object.entries(envs)) {
  describe(`SegmentLogStore on ${name} files`, () => {
    it('an empty directory loads as an empty log', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      assert.deepEqual(await store.load(), { hardState: hs(0, 0, 0), snapshot: undefined, entries: [] });
      await store.close();
    });

    it('round trip: a restart recovers exactly the saved hard state and entries', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 2, 0), range(1, 5, 1), true);
      await store.save(hs(1, 2, 3), [], false);
      await store.save(undefined, range(6, 9, 1), true);
      const { store: again, state } = await reopen(env, store);
      assert.deepEqual(state.hardState, hs(1, 2, 3), 'the hard state is the last one written');
      assert.deepEqual(state.entries, range(1, 9, 1));
      assert.equal(state.snapshot, undefined);
      await again.save(hs(2, 0, 9), range(10, 10, 2), true);
      const { store: third, state: s3 } = await reopen(env, again);
      assert.deepEqual(s3.entries, [...range(1, 9, 1), entry(10, 2)]);
      assert.deepEqual(s3.hardState, hs(2, 0, 9));
      await third.close();
    });

    it('entries saved at an index replace every stored entry from that index on', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 0), range(1, 10, 1), true);
      await store.save(hs(2, 2, 0), range(6, 8, 2), true);
      await store.save(undefined, range(4, 4, 3), true);
      const { store: again, state } = await reopen(env, store);
      assert.deepEqual(state.entries, [...range(1, 3, 1), entry(4, 3)]);
      await again.close();
    });

    it('rolls segments past segmentBytes and recovers across them; compact drops whole old segments only', async () => {
      const env = await makeEnv();
      const limits = { segmentBytes: 400 };
      const store = await SegmentLogStore.open({ files: env.files, limits });
      for (let i = 1; i <= 40; i++) await store.save(hs(1, 1, i - 1), [entry(i, 1, 'x'.repeat(30))], true);
      assert.ok(store.segmentCount > 3, `segments: ${store.segmentCount}`);
      await assert.rejects(store.compact(10), /newest snapshot is at 0/);
      await store.saveSnapshot(snapshot(20, 1));
      const before = store.segmentCount;
      await store.compact(20);
      assert.ok(store.segmentCount < before && store.segmentCount > 0, `${before} -> ${store.segmentCount}`);
      const { store: again, state } = await reopen(env, store, limits);
      assert.deepEqual(state.snapshot, snapshot(20, 1));
      assert.deepEqual(
        state.entries.map((e) => e.index),
        range(21, 40, 1).map((e) => e.index),
      );
      assert.deepEqual(
        state.hardState,
        hs(1, 1, 39),
        'the hard state survives removal of the segments that held it',
      );
      await again.save(undefined, [entry(41, 2)], true);
      await again.saveSnapshot(snapshot(41, 2));
      await again.compact(41);
      assert.equal(again.segmentCount, 1, 'everything but the last segment is compacted away');
      const { store: third, state: s3 } = await reopen(env, again, limits);
      assert.deepEqual(s3.entries, []);
      assert.equal(s3.snapshot?.meta.index, 41);
      assert.deepEqual(
        (await env.files.list()).filter((n) => n.endsWith('.snap')),
        ['snap-0000000000000029.snap'],
      );
      await third.close();
    });

    it('a local snapshot keeps the entries after it; one installed over a diverging log drops them', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 5), range(1, 10, 1), true);
      await store.saveSnapshot(snapshot(5, 1));
      let { store: s, state } = await reopen(env, store);
      assert.deepEqual(
        state.entries.map((e) => e.index),
        [6, 7, 8, 9, 10],
      );
      // The leader's log at 8 has term 3: the follower's entries from 8 on are not the leader's.
      await s.saveSnapshot(snapshot(8, 3));
      ({ store: s, state } = await reopen(env, s));
      assert.deepEqual(state.entries, []);
      await s.save(hs(3, 0, 8), range(9, 11, 3), true);
      ({ store: s, state } = await reopen(env, s));
      assert.deepEqual(state.entries, range(9, 11, 3));
      assert.equal(state.snapshot?.meta.term, 3);
      await s.close();
    });

    it('a torn tail is cut at every byte offset of the last record, and the log goes on from there', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 0), range(1, 3, 1), true);
      const seg = await lastSegment(env);
      const start = (await env.raw(seg)).length;
      await store.save(hs(1, 1, 3), range(4, 5, 1), true);
      await store.close();
      const full = await env.raw(seg);
      assert.ok(full.length > start + 8);
      for (let cut = start; cut < full.length; cut++) {
        await env.setRaw(seg, full.subarray(0, cut));
        const s = await SegmentLogStore.open({ files: await env.restart() });
        const state = await s.load();
        assert.deepEqual(state.entries, range(1, 3, 1), `cut at ${cut}`);
        assert.deepEqual(state.hardState, hs(1, 1, 0), `cut at ${cut}`);
        assert.equal((await env.raw(seg)).length, start, `the torn bytes are gone after a cut at ${cut}`);
        await s.save(undefined, [entry(4, 2)], true);
        const { store: s2, state: again } = await reopen(env, s);
        assert.deepEqual(again.entries, [...range(1, 3, 1), entry(4, 2)], `appending after a cut at ${cut}`);
        await s2.close();
      }
    });

    it('zeros at the tail (a file extended but never written) are a torn tail too', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 0), range(1, 3, 1), true);
      await store.close();
      const seg = await lastSegment(env);
      const full = await env.raw(seg);
      const padded = new Uint8Array(full.length + 4096);
      padded.set(full);
      await env.setRaw(seg, padded);
      const { store: s, state } = await reopen(
        env,
        await SegmentLogStore.open({ files: await env.restart() }),
      );
      assert.deepEqual(state.entries, range(1, 3, 1));
      await s.close();
    });

    it('a corrupt byte before the tail is refused with CORRUPT naming the file and offset', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 0), range(1, 3, 1), true);
      const seg = await lastSegment(env);
      const second = (await env.raw(seg)).length;
      await store.save(hs(1, 1, 2), range(4, 6, 1), true);
      await store.save(hs(1, 1, 5), range(7, 9, 1), true);
      await store.close();
      const full = await env.raw(seg);
      const bad = full.slice();
      bad[second + 12] = bad[second + 12]! ^ 0x40; // a payload byte of the middle record
      await env.setRaw(seg, bad);
      await assert.rejects(
        SegmentLogStore.open({ files: await env.restart() }),
        (e) => isRaftError(e, 'CORRUPT') && e.message.includes(seg) && e.message.includes(`offset ${second}`),
      );
      assert.deepEqual(await env.raw(seg), bad, 'a refused log is left untouched');
    });

    it('a corrupt record in a segment before the last is refused even at its end', async () => {
      const env = await makeEnv();
      const limits = { segmentBytes: 300 };
      const store = await SegmentLogStore.open({ files: env.files, limits });
      for (let i = 1; i <= 20; i++) await store.save(undefined, [entry(i, 1, 'y'.repeat(40))], true);
      await store.close();
      const first = (await env.files.list()).find((n) => n.endsWith('.wal'))!;
      const bytes = (await env.raw(first)).slice();
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
      await env.setRaw(first, bytes);
      await assert.rejects(SegmentLogStore.open({ files: await env.restart(), limits }), (e) =>
        isRaftError(e, 'CORRUPT'),
      );
    });

    it('a corrupt snapshot file is refused', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await store.save(hs(1, 1, 3), range(1, 3, 1), true);
      await store.saveSnapshot(snapshot(3, 1, 'the image'));
      await store.close();
      const snap = (await env.files.list()).find((n) => n.endsWith('.snap'))!;
      const bytes = (await env.raw(snap)).slice();
      bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
      await env.setRaw(snap, bytes);
      await assert.rejects(
        SegmentLogStore.open({ files: await env.restart() }),
        (e) => isRaftError(e, 'CORRUPT') && e.message.includes(snap),
      );
    });

    it('group commit: 1,000 concurrent synced saves resolve with far fewer than 1,000 syncs', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      const syncsBefore = store.stats.syncs;
      const saves: Promise<void>[] = [];
      for (let i = 1; i <= 1000; i++)
        saves.push(store.save(hs(1, 1, i - 1), [entry(i, 1, 'z'.repeat(100))], true));
      await Promise.all(saves);
      const syncs = store.stats.syncs - syncsBefore;
      assert.ok(syncs <= 10, `1,000 saves took ${syncs} syncs and ${store.stats.flushes} writes`);
      const { store: again, state } = await reopen(env, store);
      assert.equal(state.entries.length, 1000);
      assert.deepEqual(state.hardState, hs(1, 1, 999));
      await again.close();
    });

    it('rejects non-contiguous entries and calls after close', async () => {
      const env = await makeEnv();
      const store = await SegmentLogStore.open({ files: env.files });
      await assert.rejects(store.save(undefined, [entry(1, 1), entry(3, 1)], true), /contiguous/);
      await store.close();
      await assert.rejects(store.save(undefined, [entry(1, 1)], true), /closed/);
    });
  });
}

/** SimFiles whose `n`-th file sync (counting from the wrap) fails with IO_ERROR. */
function failingSync(files: SimFiles, n: number): LogFiles {
  let syncs = 0;
  return {
    list: () => files.list(),
    remove: (name) => files.remove(name),
    rename: (from, to) => files.rename(from, to),
    syncDirectory: () => files.syncDirectory(),
    open: async (name, options) => {
      const f = await files.open(name, options);
      return {
        name: f.name,
        get size() {
          return f.size;
        },
        read: (offset, length) => f.read(offset, length),
        append: (data) => f.append(data),
        truncate: (size) => f.truncate(size),
        close: () => f.close(),
        sync: async () => {
          if (++syncs === n) throw new CairnError('IO_ERROR', 'injected fsync failure');
          await f.sync();
        },
      };
    },
  };
}

describe('SegmentLogStore after a failed write', () => {
  it('fails the pending saves and every later call with the first error, and a restart recovers', async () => {
    const files = new SimFiles();
    const store = await SegmentLogStore.open({ files: failingSync(files, 2) }); // 1 is the segment's creation
    await assert.rejects(store.save(hs(1, 1, 0), range(1, 2, 1), true), /injected fsync failure/);
    await assert.rejects(store.save(undefined, range(3, 3, 1), false), /injected fsync failure/);
    await assert.rejects(store.saveSnapshot(snapshot(1, 1)), /injected fsync failure/);
    await store.close();
    files.crash();
    files.reopen();
    const again = await SegmentLogStore.open({ files });
    assert.deepEqual((await again.load()).entries, [], 'the failed save was never acknowledged nor synced');
    await again.save(hs(1, 1, 0), range(1, 2, 1), true);
    await again.close();
  });
});
