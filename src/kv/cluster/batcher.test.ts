import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../../core/index.js';
import { Batcher, type ItemOutcome } from './batcher.js';

interface Sent {
  target: string;
  items: string[];
  deadlineMs: number;
}

/** A batcher over strings whose windows close only when the test says so. */
function harness(
  answer: (items: readonly string[]) => Promise<readonly ItemOutcome<string>[]> = async (items) =>
    items.map((i) => ({ ok: true, value: i.toUpperCase() })),
  bounds = { maxItems: 4, maxBytes: 10 },
  windowCount?: number,
  report?: (err: unknown) => void,
) {
  const sent: Sent[] = [];
  const windows: (() => void)[] = [];
  const batcher = new Batcher<string, string>({
    send: (target, items, deadlineMs) => {
      sent.push({ target, items: [...items], deadlineMs });
      return answer(items);
    },
    sizeOf: (item) => item.length,
    defer: (fn) => windows.push(fn),
    bounds,
    ...(windowCount === undefined ? {} : { windows: windowCount }),
    ...(report === undefined ? {} : { report }),
  });
  const close = () => {
    for (const fn of windows.splice(0)) fn();
  };
  return { batcher, sent, close };
}

describe('Batcher', () => {
  it('sends the calls of one window per target and lane as one batch, in order, each answered its own', async () => {
    const { batcher, sent, close } = harness();
    const a = batcher.addAsync('n2', 'write', 'a', 100);
    const b = batcher.addAsync('n2', 'write', 'b', 300);
    const c = batcher.addAsync('n3', 'write', 'c', 100);
    const d = batcher.addAsync('n2', 'repair', 'd', 100);
    assert.equal(sent.length, 0, 'nothing leaves before the window closes');
    close();
    assert.deepEqual(await Promise.all([a, b, c, d]), ['A', 'B', 'C', 'D']);
    assert.deepEqual(
      sent.map((s) => [s.target, s.items]),
      [
        ['n2', ['a', 'b']],
        ['n3', ['c']],
        ['n2', ['d']],
      ],
    );
    assert.equal(sent[0]!.deadlineMs, 300, 'a batch waits as long as its most patient item');
    const e = batcher.addAsync('n2', 'write', 'e', 100);
    close();
    assert.equal(await e, 'E');
    assert.equal(sent.length, 4, 'a later window is a new batch');
  });

  it('sends a full batch at once and starts another past maxItems or maxBytes', async () => {
    const { batcher, sent, close } = harness();
    const calls = ['a', 'b', 'c', 'd', 'e'].map((x) => batcher.addAsync('n2', 'w', x, 100));
    assert.deepEqual(sent[0]?.items, ['a', 'b', 'c', 'd'], 'four items fill a batch: it leaves at once');
    close();
    assert.deepEqual(await Promise.all(calls), ['A', 'B', 'C', 'D', 'E']);
    assert.deepEqual(sent[1]?.items, ['e']);
    const big = ['xxxxxx', 'yyyyyy', 'zzzzzzzzzzzzzz'].map((x) => batcher.addAsync('n2', 'w', x, 100));
    close();
    await Promise.all(big);
    assert.deepEqual(
      sent.slice(2).map((s) => s.items),
      [['xxxxxx'], ['yyyyyy'], ['zzzzzzzzzzzzzz']],
      'an item that would pass maxBytes starts a new batch; one larger than it travels alone',
    );
  });

  it('fails each item with its own error, every item when the batch fails or answers a wrong count', async () => {
    let mode: 'mixed' | 'throw' | 'short' = 'mixed';
    const { batcher, close } = harness(async (items) => {
      if (mode === 'throw') throw new Error('connection lost');
      if (mode === 'short') return [{ ok: true, value: 'only one' }];
      return items.map((i) =>
        i === 'bad' ? { ok: false, error: new Error(`refused ${i}`) } : { ok: true, value: i },
      );
    });
    const good = batcher.addAsync('n2', 'w', 'ok', 100);
    const bad = batcher.addAsync('n2', 'w', 'bad', 100);
    close();
    assert.equal(await good, 'ok');
    await assert.rejects(bad, /refused bad/);
    mode = 'throw';
    const lost = [batcher.addAsync('n2', 'w', 'a', 100), batcher.addAsync('n2', 'w', 'b', 100)];
    close();
    for (const p of lost) await assert.rejects(p, /connection lost/);
    mode = 'short';
    const short = [batcher.addAsync('n2', 'w', 'a', 100), batcher.addAsync('n2', 'w', 'b', 100)];
    close();
    for (const p of short) await assert.rejects(p, (e) => isCairnError(e, 'DECODE_FAILED'));
  });

  it('fails the batch when send throws synchronously', async () => {
    const { batcher, close } = harness(() => {
      throw new Error('no address');
    });
    const p = batcher.addAsync('n2', 'w', 'a', 100);
    close();
    await assert.rejects(p, /no address/);
  });

  it('keeps a batch open for `windows` windows, gathering the calls of each', async () => {
    const { batcher, sent, close } = harness(undefined, undefined, 2);
    const a = batcher.addAsync('n2', 'w', 'a', 100);
    close();
    assert.equal(sent.length, 0, 'the first window closed: the batch stays open');
    const b = batcher.addAsync('n2', 'w', 'b', 100);
    const c = batcher.addAsync('n3', 'w', 'c', 100);
    close();
    assert.deepEqual(await Promise.all([a, b, c]), ['A', 'B', 'C']);
    assert.deepEqual(
      sent.map((s) => [s.target, s.items]),
      [
        ['n2', ['a', 'b']],
        ['n3', ['c']],
      ],
      'the second window sent what both gathered',
    );
    const full = ['d', 'e', 'f', 'g'].map((x) => batcher.addAsync('n2', 'w', x, 100));
    assert.deepEqual(sent[2]?.items, ['d', 'e', 'f', 'g'], 'a full batch still leaves at once');
    await Promise.all(full);
    const h = batcher.addAsync('n2', 'w', 'h', 100);
    close();
    assert.equal(sent.length, 3, 'a new round counts its windows afresh');
    close();
    assert.equal(await h, 'H');
    assert.deepEqual(sent[3]?.items, ['h']);
  });

  it('calls each callback once, never from within add, and a throwing callback keeps the others', async () => {
    const reported: unknown[] = [];
    const { batcher, close } = harness(undefined, undefined, undefined, (err) => reported.push(err));
    const got: string[] = [];
    for (const x of ['a', 'b', 'c']) {
      batcher.add('n2', 'w', x, 100, (o) => {
        got.push(o.ok ? o.value : 'failed');
        if (x === 'a') throw new Error('callback bug');
      });
    }
    assert.deepEqual(got, [], 'nothing is called before the batch is answered');
    close();
    while (got.length < 3) await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['A', 'B', 'C']);
    assert.equal(reported.length, 1);
    assert.match(String(reported[0]), /callback bug/);
  });
});
