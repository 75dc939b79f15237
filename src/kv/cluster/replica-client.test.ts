import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/index.js';
import type { RpcClient } from '../../rpc/index.js';
import { isKvError } from '../errors.js';
import { HybridClock } from '../hlc.js';
import type { Cell } from '../types.js';
import { decodeCells } from './cells-wire.js';
import { defaultEngines } from './engines.js';
import type { ReplicaPort } from './ports.js';
import { cellToWire, type WireKeyedCell } from './protocol.js';
import type { ReplicaService } from './replica.js';
import { ReplicaClient } from './replica-client.js';
import { SkewMonitor } from './skew.js';

const enc = new TextEncoder();

/** A ReplicaClient whose rpc is a script: `answer` sees each kv.writeCells's cells and returns its `err`. */
function client(answer: (cells: WireKeyedCell[]) => string | undefined) {
  const clock = new ManualClock(1_000_000);
  const hlc = new HybridClock({ clock, node: 1, maxOffsetMs: 500 });
  const calls: { method: string; cells: WireKeyedCell[] }[] = [];
  const rpc = {
    call: async (_address: unknown, method: { name: string }, request: { cells: Uint8Array }) => {
      const cells = decodeCells(request.cells, {
        maxCells: 1024,
        maxKeyBytes: 1024,
        maxValueBytes: 1024,
      }).map((c): WireKeyedCell => ({ k: c.key, c: cellToWire(c.cell) }));
      calls.push({ method: method.name, cells });
      const err = answer(cells);
      const hlcWire = { w: clock.now(), l: 0, n: 2 };
      return err === undefined ? { hlc: hlcWire } : { hlc: hlcWire, err };
    },
  } as unknown as RpcClient;
  const windows: (() => void)[] = [];
  const replicas = new ReplicaClient(
    'n1',
    rpc,
    () => '127.0.0.1:1',
    { service: {} as ReplicaService, store: {} as ReplicaPort },
    hlc,
    new SkewMonitor(clock, 500, 10_000),
    defaultEngines,
    undefined,
    (fn) => windows.push(fn),
  );
  const close = () => {
    for (const fn of windows.splice(0)) fn();
  };
  const cell = (value: string): Cell => ({ version: hlc.now(), value: enc.encode(value) });
  return { replicas, calls, close, cell };
}

describe('ReplicaClient batching', () => {
  it('carries the single-cell writes of one window to a replica in one kv.writeCells', async () => {
    const { replicas, calls, close, cell } = client(() => undefined);
    const writes = ['a', 'b', 'c'].map((k) =>
      replicas.write('n2', 'write', [{ key: enc.encode(k), cell: cell(k) }], 1000),
    );
    const repair = replicas.write('n2', 'repair', [{ key: enc.encode('r'), cell: cell('r') }], 1000);
    close();
    await Promise.all([...writes, repair]);
    assert.deepEqual(
      calls.map((c) => [c.method, c.cells.map((x) => new TextDecoder().decode(x.k))]),
      [
        ['kv.writeCells', ['a', 'b', 'c']],
        ['kv.writeCells', ['r']],
      ],
    );
  });

  it('sends each cell alone when the replica refuses a batch as INVALID_ARGUMENT: only the bad one fails', async () => {
    const bad = (cells: WireKeyedCell[]) => cells.some((c) => new TextDecoder().decode(c.k) === 'bad');
    const { replicas, calls, close, cell } = client((cells) => (bad(cells) ? 'INVALID_ARGUMENT' : undefined));
    const results = Promise.allSettled(
      ['a', 'bad', 'c'].map((k) =>
        replicas.write('n2', 'write', [{ key: enc.encode(k), cell: cell(k) }], 1000),
      ),
    );
    close();
    const [a, b, c] = await results;
    assert.equal(a!.status, 'fulfilled');
    assert.equal(c!.status, 'fulfilled');
    assert.ok(b?.status === 'rejected' && isKvError(b.reason, 'INVALID_ARGUMENT'));
    assert.deepEqual(
      calls.map((x) => x.cells.length),
      [3, 1, 1, 1],
    );
  });

  it('fails every write of a batch the replica refuses for the sender (CLOCK_SKEW), without resending', async () => {
    const { replicas, calls, close, cell } = client(() => 'CLOCK_SKEW');
    const results = Promise.allSettled(
      ['a', 'b'].map((k) => replicas.write('n2', 'write', [{ key: enc.encode(k), cell: cell(k) }], 1000)),
    );
    close();
    for (const r of await results) assert.ok(r.status === 'rejected' && isKvError(r.reason, 'CLOCK_SKEW'));
    assert.equal(calls.length, 1);
  });
});
