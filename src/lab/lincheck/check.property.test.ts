import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bruteForceLinearizable } from './brute-force.test-helper.js';
import { checkHistory } from './check.js';
import type { Operation } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';
import { kvModel } from './kv-model.js';
import { UNKNOWN } from './model.js';

// fast-check prints the seed and the shrunk counterexample on failure. Replay:
// FC_SEED=<seed> node --import tsx --test src/lab/lincheck/check.property.test.ts
const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const replay = `FC_SEED=${seed} node --import tsx --test src/lab/lincheck/check.property.test.ts`;

type KvOp = Operation<KvInput, KvOutput>;

/** One generated operation: what it does, and how its interval lies around its effect. */
interface Spec {
  key: number;
  kind: 'put' | 'get' | 'delete' | 'casValue' | 'casRevision';
  value: number;
  /** For casRevision: guard on the current revision, 0 (absent), or a likely wrong one. */
  guard: 'current' | 'zero' | 'other';
  lead: number;
  lag: number;
  /** 'ok' or unknown outcome; an unknown one takes effect or not. */
  outcome: 'ok' | 'infoApplied' | 'infoLost';
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  key: fc.integer({ min: 0, max: 2 }),
  kind: fc.constantFrom('put', 'get', 'get', 'delete', 'casValue', 'casRevision'),
  value: fc.integer({ min: 0, max: 2 }),
  guard: fc.constantFrom('current', 'zero', 'other'),
  lead: fc.integer({ min: 0, max: 35 }),
  lag: fc.integer({ min: 0, max: 35 }),
  outcome: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'infoApplied', 'infoLost'),
});

/**
 * Runs the specs against a sequential store, operation i taking effect at time 10i, and records
 * each with a random interval around that instant: a linearizable history by construction.
 */
function execute(specs: readonly Spec[], withRevisions: boolean): KvOp[] {
  const store = new Map<string, { value: string; modRevision: number }>();
  let revision = 0;
  const rev = <T extends object>(out: T, r: number): T => (withRevisions ? { ...out, revision: r } : out);
  return specs.map((s, id) => {
    const key = `k${s.key}`;
    const value = `v${s.value}`;
    const cur = store.get(key);
    let input: KvInput;
    let output: KvOutput;
    const write = () => {
      store.set(key, { value, modRevision: ++revision });
      return revision;
    };
    const apply = s.outcome !== 'infoLost';
    switch (s.kind) {
      case 'put':
        input = { type: 'put', key, value };
        output = rev({ type: 'put' }, apply ? write() : 0);
        break;
      case 'get':
        input = { type: 'get', key };
        output =
          withRevisions && cur !== undefined
            ? { type: 'get', value: cur.value, modRevision: cur.modRevision }
            : { type: 'get', value: cur?.value ?? null };
        break;
      case 'delete': {
        input = { type: 'delete', key };
        const deleted = cur === undefined ? 0 : 1;
        if (apply && deleted === 1) {
          store.delete(key);
          revision++;
        }
        output = deleted === 1 ? rev({ type: 'delete', deleted }, revision) : { type: 'delete', deleted };
        break;
      }
      case 'casValue':
      case 'casRevision': {
        const compare =
          s.kind === 'casValue'
            ? { value: `v${(s.value + 1) % 3}` }
            : { modRevision: s.guard === 'current' ? (cur?.modRevision ?? 0) : s.guard === 'zero' ? 0 : 3 };
        input = { type: 'cas', key, compare, value };
        const holds =
          'value' in compare ? cur?.value === compare.value : (cur?.modRevision ?? 0) === compare.modRevision;
        output = holds
          ? rev({ type: 'cas', succeeded: true }, apply ? write() : 0)
          : { type: 'cas', succeeded: false };
        break;
      }
    }
    const t = 10 * id;
    if (s.outcome === 'ok') return { id, clientId: id % 4, input, call: t - s.lead, ret: t + s.lag, output };
    return { id, clientId: id % 4, input, call: t - s.lead, ret: Number.POSITIVE_INFINITY, output: UNKNOWN };
  });
}

/** Changes one completed operation's output; returns undefined when there is none to change. */
function corrupt(ops: readonly KvOp[], pick: number, how: number): KvOp[] | undefined {
  const done = ops.filter((op) => op.output !== UNKNOWN);
  if (done.length === 0) return undefined;
  const victim = done[pick % done.length]!;
  const out = victim.output as KvOutput;
  let changed: KvOutput;
  switch (out.type) {
    case 'put':
      changed = { type: 'put', revision: (out.revision ?? 1) + (how % 2 === 0 ? 1 : -1) };
      break;
    case 'get':
      changed =
        how % 3 === 0 && out.modRevision !== undefined
          ? { ...out, modRevision: out.modRevision + 1 }
          : {
              type: 'get',
              value: out.value === null ? `v${how % 3}` : how % 2 === 0 ? null : `${out.value}x`,
            };
      break;
    case 'delete':
      changed = { type: 'delete', deleted: 1 - out.deleted };
      break;
    case 'cas':
      changed = { type: 'cas', succeeded: !out.succeeded };
      break;
  }
  return ops.map((op) => (op === victim ? { ...op, output: changed } : op));
}

describe(`linearizability checker against generated histories (seed=${seed}; replay: ${replay})`, () => {
  it('accepts every history recorded from a sequential execution, and agrees with brute force', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 0, maxLength: 8 }), fc.boolean(), (specs, withRevisions) => {
        const ops = execute(specs, withRevisions);
        const r = checkHistory(kvModel, ops);
        assert.equal(r.kind, 'ok', r.kind === 'illegal' ? r.report : r.kind);
        assert.equal(bruteForceLinearizable(kvModel, ops), true);
      }),
      { seed, numRuns: 400 },
    );
  });

  it('accepts long generated histories (no brute force)', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 50, maxLength: 200 }),
        fc.boolean(),
        (specs, withRevisions) => {
          const r = checkHistory(kvModel, execute(specs, withRevisions));
          assert.equal(r.kind, 'ok', r.kind === 'illegal' ? r.report : r.kind);
        },
      ),
      { seed, numRuns: 50 },
    );
  });

  it('after one corrupted output, says illegal exactly when brute force finds no linearization', () => {
    let illegal = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        (specs, withRevisions, pick, how) => {
          const ops = corrupt(execute(specs, withRevisions), pick, how);
          if (ops === undefined) return;
          runs++;
          const expected = bruteForceLinearizable(kvModel, ops) ? 'ok' : 'illegal';
          const r = checkHistory(kvModel, ops);
          assert.equal(
            r.kind,
            expected,
            r.kind === 'illegal' ? r.report : `checker ${r.kind}, brute force ${expected}`,
          );
          if (expected === 'illegal') illegal++;
        },
      ),
      { seed, numRuns: 600 },
    );
    // The corruptions must mostly be caught, or this property would be checking nothing.
    assert.ok(illegal > runs / 3, `only ${illegal} of ${runs} corrupted histories were illegal`);
  });
});
