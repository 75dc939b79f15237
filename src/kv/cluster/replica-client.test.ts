import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/index.js';
import type { RpcClient } from '../../rpc/index.js';
import { isKvError, KvError } from '../errors.js';
import { HybridClock } from '../hlc.js';
import type { Cell } from '../types.js';
import { decodeCells } from './cells-wire.js';
import { defaultEngines } from './engines.js';
import type { ReplicaPort } from './ports.js';
import { cellToWire, type KeyedCell, type WireKeyedCell } from './protocol.js';
import { decodeReadKeys, encodeReadAnswers, type ReadKey, type ReadWireAnswer } from './read-wire.js';
import type { ReplicaService } from './replica.js';
import { ReplicaClient } from './replica-client.js';
import { SkewMonitor } from './skew.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a scripted replica answers a kv.readCells: a refusal, or answers (any number). */
type ReadScript = (keys: ReadKey[]) => { err?: string; answers?: ReadWireAnswer[] };

/** A ReplicaClient whose rpc is a script: `answer` sees each kv.writeCells's cells and returns its `err`. */
function client(
  answer: (cells: WireKeyedCell[]) => string | undefined,
  reads?: ReadScript,
  service: ReplicaService = {} as ReplicaService,
) {
  const clock = new ManualClock(1_000_000);
  const hlc = new HybridClock({ clock, node: 1, maxOffsetMs: 500 });
  const calls: { method: string; cells: WireKeyedCell[] }[] = [];
  const readCalls: ReadKey[][] = [];
  const rpc = {
    call: async (
      _address: unknown,
      method: { name: string },
      request: { cells: Uint8Array; keys: Uint8Array },
    ) => {
      if (method.name === 'kv.readCells') {
        const keys = decodeReadKeys(request.keys, { maxItems: 1024, maxKeyBytes: 1024, maxValueBytes: 1024 });
        readCalls.push(keys);
        const got = reads!(keys);
        const hlcWire = { w: clock.now(), l: 0, n: 2 };
        return {
          hlc: hlcWire,
          answers: encodeReadAnswers(got.answers ?? []),
          ...(got.err ? { err: got.err } : {}),
        };
      }
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
    { service, store: {} as ReplicaPort },
    hlc,
    new SkewMonitor(clock, 500, 10_000),
    defaultEngines,
    undefined,
    (fn) => windows.push(fn),
  );
  /** Closes the open batching window. */
  const closeOne = () => {
    for (const fn of windows.splice(0)) fn();
  };
  /** Closes batching windows until no batch waits for one (batches gather for two). */
  const close = () => {
    while (windows.length > 0) closeOne();
  };
  const cell = (value: string): Cell => ({ version: hlc.now(), value: enc.encode(value) });
  return { replicas, calls, readCalls, closeOne, close, cell };
}

describe('ReplicaClient batching', () => {
  it('carries the single-cell writes of two batching windows to a replica in one kv.writeCells', async () => {
    const { replicas, calls, closeOne, close, cell } = client(() => undefined);
    const writes = ['a', 'b'].map((k) =>
      replicas.write('n2', 'write', [{ key: enc.encode(k), cell: cell(k) }], 1000),
    );
    closeOne();
    assert.equal(calls.length, 0, 'a batch stays open for a second window');
    writes.push(replicas.write('n2', 'write', [{ key: enc.encode('c'), cell: cell('c') }], 1000));
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

  it("applies the single-cell writes to this node's own replica made in one batching round as one call", async () => {
    const applied: string[][] = [];
    const service = {
      apply: async (_kind: string, cells: readonly KeyedCell[]) => {
        const keys = cells.map((c) => dec.decode(c.key));
        applied.push(keys);
        if (keys.includes('bad')) throw new KvError('INVALID_ARGUMENT', 'malformed cell');
      },
    } as unknown as ReplicaService;
    const { replicas, calls, close, cell } = client(() => undefined, undefined, service);
    const outcomes: [string, boolean][] = [];
    for (const k of ['a', 'bad', 'c'])
      replicas.writeThen('n1', 'write', [{ key: enc.encode(k), cell: cell(k) }], 1000, (o) =>
        outcomes.push([k, o.ok]),
      );
    assert.deepEqual(applied, [], 'nothing is applied before the batching windows close');
    close();
    while (outcomes.length < 3) await new Promise((r) => setImmediate(r));
    assert.deepEqual(outcomes.sort(), [
      ['a', true],
      ['bad', false],
      ['c', true],
    ]);
    assert.deepEqual(applied, [['a', 'bad', 'c'], ['a'], ['bad'], ['c']], 'refused whole, then each alone');
    assert.equal(calls.length, 0, 'no rpc for the own replica');
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

  it('carries the reads of one batching round to a replica in one kv.readCells; a key that fails fails only its read', async () => {
    const v = { version: { wall: 5, logical: 0, node: 2 }, value: enc.encode('va') };
    const { replicas, readCalls, close } = client(
      () => undefined,
      (keys) => ({
        answers: keys.map((k): ReadWireAnswer => {
          const name = dec.decode(k.key);
          if (name === 'bad') return { error: 'corrupt cell' };
          if (k.digest) return { digest: Uint8Array.of(1, 2) };
          return { cell: name === 'a' ? v : undefined };
        }),
      }),
    );
    const results = Promise.allSettled([
      replicas.read('n2', enc.encode('a'), false, 1000),
      replicas.read('n2', enc.encode('b'), true, 1000),
      replicas.read('n2', enc.encode('bad'), false, 1000),
      replicas.read('n2', enc.encode('none'), false, 1000),
    ]);
    close();
    const [a, b, bad, none] = await results;
    assert.deepEqual(
      readCalls.map((keys) => keys.map((k) => [dec.decode(k.key), k.digest])),
      [
        [
          ['a', false],
          ['b', true],
          ['bad', false],
          ['none', false],
        ],
      ],
    );
    assert.deepEqual(a, { status: 'fulfilled', value: { cell: v } });
    assert.deepEqual(b, { status: 'fulfilled', value: { digest: Uint8Array.of(1, 2) } });
    assert.ok(bad?.status === 'rejected' && /corrupt cell/.test(String(bad.reason)));
    assert.deepEqual(none, { status: 'fulfilled', value: { cell: undefined } });
  });

  it('fails every read of a batch the replica refuses, or answers with another length or kind, without resending', async () => {
    for (const script of [
      (): ReturnType<ReadScript> => ({ err: 'INVALID_ARGUMENT' }),
      (): ReturnType<ReadScript> => ({ err: 'CLOCK_SKEW' }),
      (): ReturnType<ReadScript> => ({ answers: [{ cell: undefined }] }),
    ]) {
      const { replicas, readCalls, close } = client(() => undefined, script);
      const results = Promise.allSettled(
        ['a', 'b'].map((k) => replicas.read('n2', enc.encode(k), false, 1000)),
      );
      close();
      for (const r of await results) assert.equal(r.status, 'rejected');
      assert.equal(readCalls.length, 1);
    }
    const { replicas, close } = client(
      () => undefined,
      () => ({ answers: [{ cell: undefined }, { digest: new Uint8Array(0) }] }),
    );
    const kinds = Promise.allSettled([
      replicas.read('n2', enc.encode('a'), true, 1000),
      replicas.read('n2', enc.encode('b'), false, 1000),
    ]);
    close();
    for (const r of await kinds) assert.equal(r.status, 'rejected');
  });
});
