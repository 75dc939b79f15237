/**
 * The segment log against a simple in-memory model of the RaftLogStore contract (fast-check).
 *
 * Clean restarts (both backends): after every restart the loaded state equals the model's.
 * Crashes (SimFiles, torn writes drawn from the seed): the loaded state is one the model passed
 * through at or after the last durable point (the last synced save, snapshot or restart).
 *
 * Run: node --import tsx --test src/raft/log/segment-log.property.test.ts
 * fast-check prints the seed and path of a failure; replay with FC_SEED=<seed> (and FC_PATH=<path>).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { SimFiles } from '../../sim/files.js';
import type { Entry, HardState, Snapshot } from '../types.js';
import type { LogFiles } from './files.js';
import { NodeLogFiles } from './node-files.js';
import { SegmentLogStore } from './segment-log.js';

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const path = process.env.FC_PATH;
const replay = { ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) };
const limits = { segmentBytes: 320 };

/** What the contract says a load returns. */
interface View {
  hardState: HardState;
  snapshot: { index: number; term: number } | undefined;
  entries: Entry[];
}

class Model {
  view: View = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: undefined, entries: [] };

  get snapshotIndex(): number {
    return this.view.snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    const es = this.view.entries;
    return es.length === 0 ? this.snapshotIndex : es[es.length - 1]!.index;
  }

  save(hardState: HardState | undefined, entries: Entry[]): void {
    const start = entries[0]?.index;
    const kept = start === undefined ? this.view.entries : this.view.entries.filter((e) => e.index < start);
    this.view = { ...this.view, hardState: hardState ?? this.view.hardState, entries: [...kept, ...entries] };
  }

  snapshot(index: number, term: number): void {
    const at = this.view.entries.find((e) => e.index === index);
    const entries =
      at !== undefined && at.term === term ? this.view.entries.filter((e) => e.index > index) : [];
    this.view = { ...this.view, snapshot: { index, term }, entries };
  }
}

type Op =
  | { t: 'save'; withHs: boolean; hsTerm: number; back: number; count: number; term: number; sync: boolean }
  | { t: 'snap'; pick: number; install: boolean; term: number }
  | { t: 'compact'; pick: number }
  | { t: 'restart' }
  | { t: 'crash' };

const opArb = (crash: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('save' as const),
        withHs: fc.boolean(),
        hsTerm: fc.integer({ min: 0, max: 9 }),
        back: fc.nat({ max: 6 }),
        count: fc.integer({ min: 0, max: 4 }),
        term: fc.integer({ min: 1, max: 9 }),
        sync: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('snap' as const),
        pick: fc.nat(),
        install: fc.boolean(),
        term: fc.integer({ min: 1, max: 9 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ t: crash ? ('crash' as const) : ('restart' as const) }) },
  );

function entryAt(index: number, term: number, n: number): Entry {
  return {
    index,
    term,
    type: n % 5 === 0 ? 'conf' : 'normal',
    data: new TextEncoder().encode(`${index}:${term}:${n}`),
  };
}

function viewOf(state: { hardState: HardState; snapshot: Snapshot | undefined; entries: Entry[] }): View {
  const s = state.snapshot;
  return {
    hardState: state.hardState,
    snapshot: s === undefined ? undefined : { index: s.meta.index, term: s.meta.term },
    entries: state.entries,
  };
}

/** Runs `ops` on a store and the model; `reopen` gives the directory after a restart or crash. */
async function run(
  ops: readonly Op[],
  files: LogFiles,
  restart: () => Promise<LogFiles>,
  crash?: () => LogFiles,
): Promise<void> {
  const model = new Model();
  let store = await SegmentLogStore.open({ files, limits });
  let durable: View[] = [model.view];
  let n = 0;
  for (const op of ops) {
    n++;
    if (op.t === 'save') {
      const lo = model.snapshotIndex + 1;
      const start = Math.max(lo, model.lastIndex + 1 - op.back);
      const entries: Entry[] = [];
      for (let k = 0; k < op.count; k++) entries.push(entryAt(start + k, op.term, n));
      const hs = op.withHs
        ? { term: op.hsTerm, vote: op.hsTerm % 3, commit: model.snapshotIndex }
        : undefined;
      await store.save(hs, entries, op.sync);
      model.save(hs, entries);
      durable = op.sync ? [model.view] : [...durable, model.view];
    } else if (op.t === 'snap') {
      const lo = model.snapshotIndex + 1;
      const hi = model.lastIndex + (op.install ? 3 : 0);
      if (hi < lo) continue;
      const index = lo + (op.pick % (hi - lo + 1));
      const local = model.view.entries.find((e) => e.index === index);
      const term = op.install || local === undefined ? op.term : local.term;
      const snap = {
        meta: { index, term, confState: { voters: [1], learners: [] } },
        data: new Uint8Array([n]),
      };
      await store.saveSnapshot(snap);
      model.snapshot(index, term);
      durable = [model.view];
    } else if (op.t === 'compact') {
      await store.compact(op.pick % (model.snapshotIndex + 1));
    } else {
      let next: LogFiles;
      if (op.t === 'restart') {
        await store.close();
        next = await restart();
      } else {
        next = crash!();
      }
      store = await SegmentLogStore.open({ files: next, limits });
      const got = viewOf(await store.load());
      const match = durable.find((v) => isDeepEqual(v, got));
      assert.ok(
        match !== undefined,
        `after op ${n} (${op.t}) the log loaded ${JSON.stringify(got)}, none of the ${durable.length} allowed states`,
      );
      model.view = match;
      durable = [match];
    }
  }
  await store.close();
  const final = viewOf(await (await SegmentLogStore.open({ files: await restart(), limits })).load());
  assert.deepEqual(final, model.view);
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

describe('SegmentLogStore against a model (property)', () => {
  it('sim files: clean restarts recover exactly the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(false), { maxLength: 60 }), async (ops) => {
        const files = new SimFiles();
        const restart = async () => {
          files.shutdown();
          files.reopen();
          return files;
        };
        await run(ops, files, restart);
      }),
      { numRuns: 150, ...replay },
    );
  });

  it('sim files: a crash recovers a state at or after the last durable point (torn writes included)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(true), { maxLength: 60 }), fc.nat(), async (ops, rngSeed) => {
        const files = new SimFiles({ rng: Rng.fromSeed(rngSeed) });
        const restart = async () => {
          files.shutdown();
          files.reopen();
          return files;
        };
        const crash = () => {
          files.crash();
          files.reopen();
          return files;
        };
        await run(ops, files, restart, crash);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('node files: clean restarts recover exactly the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(false), { maxLength: 30 }), async (ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'cairn-raftlog-prop-'));
        try {
          await run(ops, await NodeLogFiles.open(dir), () => NodeLogFiles.open(dir));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 15, ...replay },
    );
  });
});

describe('SegmentLogStore on hostile bytes (property)', () => {
  it('random segment contents open as a (possibly cut) log or are refused with CORRUPT, nothing else', async () => {
    const { frame, encodeSave } = await import('./record.js');
    const { isRaftError } = await import('../errors.js');
    const valid = frame(encodeSave({ term: 1, vote: 1, commit: 0 }, [entryAt(1, 1, 1)]));
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        fc.nat(),
        async (noise, prefixValid, flip) => {
          const files = new SimFiles();
          const bytes = prefixValid ? new Uint8Array([...valid, ...noise]) : noise.slice();
          if (bytes.length > 0 && flip % 3 === 0) bytes[flip % bytes.length]! ^= 1 << (flip % 8);
          for (const [name, content] of [
            ['0000000000000001-0000000000000001.wal', bytes],
            ['0000000000000002-0000000000000002.wal', flip % 2 === 0 ? new Uint8Array(0) : valid],
          ] as const) {
            const f = await files.open(name, { create: true });
            await f.append(content);
          }
          // The random bytes are a non-last segment in half the runs, the last one in the others.
          if (flip % 5 < 2) await files.remove('0000000000000002-0000000000000002.wal');
          try {
            const store = await SegmentLogStore.open({ files, limits });
            const state = await store.load();
            for (const e of state.entries)
              assert.ok(Number.isSafeInteger(e.index) && e.data instanceof Uint8Array);
            await store.close();
          } catch (err) {
            assert.ok(isRaftError(err, 'CORRUPT'), `unexpected ${String(err)}`);
          }
        },
      ),
      { numRuns: 500, ...replay },
    );
  });
});
