import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromUtf8, utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import type { WatchRequest, WatchResponse } from '../api.js';
import type { StoreCommand } from '../command.js';
import { MvccStore } from './mvcc-store.js';
import { COMPACTED_REASON } from './watch-hub.js';

const b = utf8;
const KEYS = ['a', 'b', 'c', 'd'];

describe('watch hub', () => {
  test('created first; events per revision; filters; prevKv; progress only when synced', async () => {
    const store = await MvccStore.open(new MemoryStorage());
    let i = 0;
    const apply = (cmd: StoreCommand) => store.apply(++i, cmd);
    await apply({ t: 'put', req: { key: b('a'), value: b('0') } });
    const got: WatchResponse[] = [];
    const w = store.watch({ key: b('a'), rangeEnd: b('c'), prevKv: true, filters: ['noDelete'] }, (r) => {
      got.push(r);
    });
    assert.deepEqual([got[0]?.created, got[0]?.header.revision], [true, 2]);
    await apply({
      t: 'txn',
      req: {
        compare: [],
        success: [{ put: { key: b('a'), value: b('1') } }, { put: { key: b('b'), value: b('1') } }],
        failure: [],
      },
    });
    await apply({ t: 'del', req: { key: b('a') } });
    await apply({ t: 'put', req: { key: b('z'), value: b('1') } });
    assert.equal(got.length, 2, 'one response for the txn revision; the delete is filtered; z is outside');
    assert.deepEqual(
      got[1]!.events.map((e) => [
        e.type,
        fromUtf8(e.kv.key),
        e.kv.modRevision,
        e.prevKv && fromUtf8(e.prevKv.value),
      ]),
      [
        ['put', 'a', 3, '0'],
        ['put', 'b', 3, undefined],
      ],
    );
    w.requestProgress();
    assert.deepEqual([got[2]?.progressNotify, got[2]?.header.revision, got[2]?.events.length], [true, 5, 0]);
    await w.cancel();
    await apply({ t: 'put', req: { key: b('a'), value: b('2') } });
    assert.equal(got.length, 3, 'nothing after cancel');
  });

  test('a start revision below the compact revision gets the compacted response', async () => {
    const store = await MvccStore.open(new MemoryStorage());
    for (let i = 1; i <= 4; i++)
      await store.apply(i, { t: 'put', req: { key: b('k'), value: b(String(i)) } });
    await store.apply(5, { t: 'compact', revision: 4 });
    const got: WatchResponse[] = [];
    store.watch({ key: b('k'), startRevision: 2 }, (r) => {
      got.push(r);
    });
    await store.watchSettled();
    assert.equal(got.length, 2);
    assert.deepEqual(
      [got[1]!.compactRevision, got[1]!.canceled, got[1]!.cancelReason],
      [4, true, COMPACTED_REASON],
    );
    const ok: WatchResponse[] = [];
    store.watch({ key: b('k'), startRevision: 4 }, (r) => {
      ok.push(r);
    });
    await store.watchSettled();
    assert.deepEqual(
      ok[1]?.events.map((e) => fromUtf8(e.kv.value)),
      ['3', '4'],
    );
  });

  test('a blocked watcher stops receiving, then resumes from its next revision', async () => {
    const store = await MvccStore.open(new MemoryStorage());
    let full = true;
    const got: WatchResponse[] = [];
    const w = store.watch({ key: b('k') }, (r) => {
      got.push(r);
      return !(full && r.events.length > 0);
    });
    for (let i = 1; i <= 5; i++)
      await store.apply(i, { t: 'put', req: { key: b('k'), value: b(String(i)) } });
    assert.equal(got.length, 2, 'created, then the first event which filled the consumer');
    full = false;
    w.resume();
    await store.watchSettled();
    const values = got.flatMap((r) => r.events.map((e) => fromUtf8(e.kv.value)));
    assert.deepEqual(values, ['1', '2', '3', '4', '5']);
    await store.apply(6, { t: 'put', req: { key: b('k'), value: b('6') } });
    assert.equal(fromUtf8(got.at(-1)!.events[0]!.kv.value), '6', 'synced again');
  });
});

type Action =
  | { a: 'put'; key: string }
  | { a: 'del'; key: string; end: string | undefined }
  | { a: 'txn'; keys: string[] }
  | { a: 'compact'; back: number }
  | { a: 'watch'; key: string; end: string | undefined; back: number; prevKv: boolean }
  | { a: 'block'; which: number }
  | { a: 'resume'; which: number }
  | { a: 'settle' };

const keyArb = fc.constantFrom(...KEYS);
const endArb = fc.option(fc.constantFrom('c', 'e', '\0'), { nil: undefined });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ a: fc.constant('put' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ a: fc.constant('del' as const), key: keyArb, end: endArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      a: fc.constant('txn' as const),
      keys: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('compact' as const), back: fc.nat(6) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      a: fc.constant('watch' as const),
      key: keyArb,
      end: endArb,
      back: fc.integer({ min: -1, max: 8 }),
      prevKv: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('block' as const), which: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('resume' as const), which: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('settle' as const) }) },
);

interface ModelEvent {
  rev: number;
  type: 'put' | 'delete';
  key: string;
  value: string;
  prev: string | undefined;
}

function inRange(k: string, key: string, end: string | undefined): boolean {
  if (end === undefined) return k === key;
  return k >= key && (end === '\0' || k < end);
}

interface TestWatcher {
  req: WatchRequest;
  key: string;
  end: string | undefined;
  start: number;
  blocked: boolean;
  canceled: boolean;
  responses: WatchResponse[];
  handle: { resume(): void };
}

/** Runs the actions against the store and a model; checks every watcher saw exactly the model's events. */
async function run(actions: Action[]): Promise<void> {
  const store = await MvccStore.open(new MemoryStorage(), { limits: { maxCatchupRevisions: 3 } });
  const model = new Map<string, string>();
  const history: ModelEvent[] = [];
  const watchers: TestWatcher[] = [];
  let index = 0;
  let n = 0;
  for (const act of actions) {
    switch (act.a) {
      case 'put': {
        const value = `v${n++}`;
        await store.apply(++index, { t: 'put', req: { key: b(act.key), value: b(value) } });
        history.push({ rev: store.revision, type: 'put', key: act.key, value, prev: model.get(act.key) });
        model.set(act.key, value);
        break;
      }
      case 'del': {
        const before = store.revision;
        await store.apply(++index, {
          t: 'del',
          req: { key: b(act.key), ...(act.end === undefined ? {} : { rangeEnd: b(act.end) }) },
        });
        const gone = [...model.keys()].filter((k) => inRange(k, act.key, act.end)).sort();
        assert.equal(store.revision, gone.length > 0 ? before + 1 : before);
        for (const k of gone) {
          history.push({ rev: store.revision, type: 'delete', key: k, value: '', prev: model.get(k) });
          model.delete(k);
        }
        break;
      }
      case 'txn': {
        const values = act.keys.map(() => `v${n++}`);
        await store.apply(++index, {
          t: 'txn',
          req: {
            compare: [],
            success: act.keys.map((k, i) => ({ put: { key: b(k), value: b(values[i]!) } })),
            failure: [],
          },
        });
        act.keys.forEach((k, i) => {
          history.push({ rev: store.revision, type: 'put', key: k, value: values[i]!, prev: model.get(k) });
          model.set(k, values[i]!);
        });
        break;
      }
      case 'compact': {
        const target = store.revision - act.back;
        if (target > store.compactRevision) await store.apply(++index, { t: 'compact', revision: target });
        break;
      }
      case 'watch': {
        const start = act.back < 0 ? 0 : Math.max(1, store.revision - act.back);
        const tw: TestWatcher = {
          req: {
            key: b(act.key),
            ...(act.end === undefined ? {} : { rangeEnd: b(act.end) }),
            startRevision: start,
            prevKv: act.prevKv,
          },
          key: act.key,
          end: act.end,
          start: start === 0 ? store.revision + 1 : start,
          blocked: false,
          canceled: false,
          responses: [],
          handle: { resume() {} },
        };
        tw.handle = store.watch(tw.req, (r) => {
          tw.responses.push(r);
          if (r.canceled) tw.canceled = true;
          return !tw.blocked;
        });
        watchers.push(tw);
        break;
      }
      case 'block': {
        const w = watchers[act.which % Math.max(1, watchers.length)];
        if (w) w.blocked = true;
        break;
      }
      case 'resume': {
        const w = watchers[act.which % Math.max(1, watchers.length)];
        if (w) {
          w.blocked = false;
          w.handle.resume();
        }
        break;
      }
      case 'settle':
        await store.watchSettled();
        break;
    }
  }
  for (const w of watchers) {
    w.blocked = false;
    w.handle.resume();
  }
  await store.watchSettled();
  for (const [i, w] of watchers.entries()) {
    const got = w.responses.flatMap((r) => r.events);
    const want = history.filter((e) => e.rev >= w.start && inRange(e.key, w.key, w.end));
    const ctx = `watcher ${i} (${w.key}..${w.end ?? ''} from ${w.start})`;
    assert.ok(w.responses[0]?.created, `${ctx}: created first`);
    const seen = new Set<number>();
    for (const r of w.responses) {
      const revs = new Set(r.events.map((e) => e.kv.modRevision));
      for (const rev of revs) {
        assert.ok(!seen.has(rev), `${ctx}: revision ${rev} split across responses`);
        seen.add(rev);
      }
    }
    const gotView = got.map((e) => [e.kv.modRevision, e.type, fromUtf8(e.kv.key), fromUtf8(e.kv.value)]);
    const wantView = want.map((e) => [e.rev, e.type, e.key, e.value]);
    if (w.canceled) {
      const last = w.responses.at(-1)!;
      assert.ok(last.compactRevision! > 0, `${ctx}: canceled only for compaction`);
      assert.deepEqual(gotView, wantView.slice(0, gotView.length), `${ctx}: a prefix before the cancel`);
    } else {
      assert.deepEqual(gotView, wantView, `${ctx}: exactly the model's events`);
      if (w.req.prevKv) {
        got.forEach((e, j) => {
          if (e.prevKv !== undefined) assert.equal(fromUtf8(e.prevKv.value), want[j]!.prev, `${ctx}: prevKv`);
        });
      }
    }
  }
  await store.close();
}

describe('watch property: ordered, never lost, never duplicated', () => {
  test('random writes, compactions and watchers (some blocked and resumed) match a model', async () => {
    const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
    const numRuns = Number(process.env.CAIRN_RUNS ?? 60);
    console.log(
      `seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test src/store/mvcc/watch.test.ts`,
    );
    await fc.assert(fc.asyncProperty(fc.array(actionArb, { maxLength: 60 }), run), { seed, numRuns });
  });
});
