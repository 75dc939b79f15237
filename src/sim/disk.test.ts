import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BatchOp, fromUtf8, isCairnError, Rng, toHex, utf8 } from '../core/index.js';
import { MemoryStorage, SimDisk } from './disk.js';
import { Simulator } from './simulator.js';

const put = (k: string, val: string): BatchOp => ({ type: 'put', key: utf8(k), value: utf8(val) });
const del = (k: string): BatchOp => ({ type: 'del', key: utf8(k) });

async function dump(disk: SimDisk | MemoryStorage): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const [k, val] of disk.iterator()) out[fromUtf8(k)] = fromUtf8(val);
  return out;
}

describe('SimDisk crash semantics', () => {
  it('keeps synced batches and everything before them; loses unsynced batches after the last sync', async () => {
    const disk = new SimDisk();
    await disk.batch([put('a', '1')]);
    await disk.batch([put('b', '2')], { sync: true });
    await disk.batch([put('c', '3'), del('a')]);
    assert.deepEqual(await dump(disk), { b: '2', c: '3' });
    disk.crash();
    await assert.rejects(disk.get(utf8('a')), (e) => isCairnError(e, 'CLOSED'));
    disk.reopen();
    assert.deepEqual(await dump(disk), { a: '1', b: '2' });
    assert.equal(disk.stats.lostBatches, 1);
  });

  it('a sync that has not completed when the node crashes does not survive, and never partially', async () => {
    const sim = new Simulator({ seed: 1 });
    sim.addNode('n', () => ({}));
    const disk = sim.diskOf('n');
    disk.setFaults({ syncLatencyMs: 10 });
    const pending = disk.batch([put('x', '1'), put('y', '2')], { sync: true });
    await sim.runFor(5);
    sim.crash('n');
    sim.restart('n');
    assert.deepEqual(await dump(disk), {});
    await sim.runFor(100);
    let settled = false;
    void pending.finally(() => {
      settled = true;
    });
    await sim.runFor(100);
    assert.equal(settled, false, "a crashed node's pending disk operation never completes");
  });

  it('injects read and write faults at about the configured rate and a faulted write changes nothing', async () => {
    const disk = new SimDisk({ rng: Rng.fromSeed(7), writeFaultRate: 0.3, readFaultRate: 0.2 });
    let writeFaults = 0;
    for (let i = 0; i < 1000; i++) {
      try {
        await disk.batch([put(`k${i}`, 'v')], { sync: true });
      } catch (err) {
        assert.ok(isCairnError(err, 'SIM_DISK_FAULT'));
        writeFaults++;
        disk.setFaults({ readFaultRate: 0 });
        assert.equal(await disk.get(utf8(`k${i}`)), undefined);
        disk.setFaults({ readFaultRate: 0.2 });
      }
    }
    assert.ok(writeFaults > 200 && writeFaults < 400, `write faults ${writeFaults}`);
    assert.equal(disk.size, 1000 - writeFaults);
    let readFaults = 0;
    for (let i = 0; i < 1000; i++) {
      await disk.get(utf8('k1')).catch((err: unknown) => {
        assert.ok(isCairnError(err, 'SIM_DISK_FAULT'));
        readFaults++;
      });
    }
    assert.ok(readFaults > 120 && readFaults < 280, `read faults ${readFaults}`);
  });

  it('latency runs on the virtual clock', async () => {
    const sim = new Simulator({ seed: 1 });
    sim.addNode('n', () => ({}));
    const disk = sim.diskOf('n');
    disk.setFaults({ writeLatencyMs: 3, syncLatencyMs: 7 });
    let done = false;
    void disk.batch([put('a', '1')], { sync: true }).then(() => {
      done = true;
    });
    await sim.runFor(9);
    assert.equal(done, false);
    await sim.runFor(1);
    assert.equal(done, true);
  });

  it('rejects bad input with clear errors', async () => {
    const disk = new SimDisk({ limits: { maxBatchOps: 2 } });
    await assert.rejects(disk.batch([put('a', '1'), put('b', '2'), put('c', '3')]), (e) =>
      isCairnError(e, 'LIMIT_EXCEEDED'),
    );
    await assert.rejects(
      disk.batch([{ type: 'put', key: 'a' as unknown as Uint8Array, value: utf8('x') }]),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    await disk.close();
    await assert.rejects(disk.get(utf8('a')), (e) => isCairnError(e, 'CLOSED'));
  });
});

describe('MemoryStorage', () => {
  it('iterates ranges in unsigned byte order, forward and reverse, with limits', async () => {
    const s = new MemoryStorage();
    const keys = [[0x00], [0x01], [0x01, 0x00], [0x7f], [0x80], [0xff], [0xff, 0xff]].map(
      (k) => new Uint8Array(k),
    );
    await s.batch(keys.map((key) => ({ type: 'put', key, value: key })));
    const all: string[] = [];
    for await (const [k] of s.iterator()) all.push(toHex(k));
    assert.deepEqual(all, ['00', '01', '0100', '7f', '80', 'ff', 'ffff']);
    const rev: string[] = [];
    for await (const [k] of s.iterator({
      gt: new Uint8Array([0x01]),
      lte: new Uint8Array([0xff]),
      reverse: true,
      limit: 3,
    })) {
      rev.push(toHex(k));
    }
    assert.deepEqual(rev, ['ff', '80', '7f']);
  });
});

type Cmd =
  | { t: 'batch'; ops: Array<{ k: number; v: number | null }>; sync: boolean }
  | { t: 'crash' }
  | { t: 'check'; gte: number; lt: number; reverse: boolean };

const keyOf = (k: number) => new Uint8Array([k >> 8, k & 0xff]);

describe('SimDisk against a reference model', () => {
  it('visible state and post-crash state match a history-of-batches model', async () => {
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          t: fc.constant('batch' as const),
          ops: fc.array(
            fc.record({ k: fc.integer({ min: 0, max: 300 }), v: fc.option(fc.integer({ min: 0, max: 9 })) }),
            {
              maxLength: 5,
            },
          ),
          sync: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ t: 'crash' as const }) },
      {
        weight: 2,
        arbitrary: fc.record({
          t: fc.constant('check' as const),
          gte: fc.integer({ min: 0, max: 300 }),
          lt: fc.integer({ min: 0, max: 301 }),
          reverse: fc.boolean(),
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 40 }), async (cmds) => {
        const disk = new SimDisk();
        // The model: every batch ever applied, and how many of them are durable.
        let history: Array<Map<number, number | null>> = [];
        let durable = 0;
        const state = () => {
          const m = new Map<number, number>();
          for (const b of history) for (const [k, val] of b) val === null ? m.delete(k) : m.set(k, val);
          return m;
        };
        for (const c of cmds) {
          if (c.t === 'batch') {
            const ops: BatchOp[] = c.ops.map((o) =>
              o.v === null
                ? { type: 'del', key: keyOf(o.k) }
                : { type: 'put', key: keyOf(o.k), value: new Uint8Array([o.v]) },
            );
            await disk.batch(ops, { sync: c.sync });
            const b = new Map<number, number | null>();
            for (const o of c.ops) b.set(o.k, o.v);
            history.push(b);
            if (c.sync) durable = history.length;
          } else if (c.t === 'crash') {
            disk.crash();
            disk.reopen();
            history = history.slice(0, durable);
          } else {
            const expected = [...state().entries()]
              .filter(([k]) => k >= c.gte && k < c.lt)
              .sort((a, b) => (c.reverse ? b[0] - a[0] : a[0] - b[0]));
            const got: Array<[number, number]> = [];
            for await (const [k, val] of disk.iterator({
              gte: keyOf(c.gte),
              lt: keyOf(c.lt),
              reverse: c.reverse,
            })) {
              got.push([(k[0]! << 8) | k[1]!, val[0]!]);
            }
            assert.deepEqual(got, expected);
          }
        }
        const final = state();
        for (let k = 0; k <= 300; k += 7) {
          const got = await disk.get(keyOf(k));
          assert.equal(got?.[0], final.get(k));
        }
      }),
      { numRuns: 150 },
    );
  });
});
