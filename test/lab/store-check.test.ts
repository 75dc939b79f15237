import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type KvInput, type KvOutput, type Operation, UNKNOWN } from '../../src/lab/lincheck/index.js';
import { formatReport } from '../../src/lab/run/cli.js';
import { recheck } from '../../src/lab/run/recheck.js';
import { checkStore, FINAL_CLIENT_BASE, type StoreHistory } from '../../src/lab/workloads/store/check.js';
import { STORE_HISTORY_FILE, serializeOperations } from '../../src/lab/workloads/store/saved.js';

/**
 * The store workload's checker fed broken histories: a lost acknowledged write and a stale read
 * must each be reported, with the operations around them; the same history with the fault
 * removed must pass, so each test can fail.
 */

type Op = Operation<KvInput, KvOutput>;

/** A history builder: operations with explicit times, ids in order. */
function ops(...list: Omit<Op, 'id'>[]): Op[] {
  return list.map((op, id) => ({ id, ...op }));
}

const put = (client: number, key: string, value: string, call: number, ret: number, revision: number) => ({
  clientId: client,
  input: { type: 'put' as const, key, value },
  call,
  ret,
  output: { type: 'put' as const, revision },
});
const get = (
  client: number,
  key: string,
  value: string | null,
  call: number,
  ret: number,
  modRevision: number,
) => ({
  clientId: client,
  input: { type: 'get' as const, key },
  call,
  ret,
  output: { type: 'get' as const, value, modRevision },
});

function history(operations: Op[], finalValue: string | null, finalRevision: number): StoreHistory {
  const at = 10_000;
  const finalRead = get(FINAL_CLIENT_BASE, 'lab/k0', finalValue, at - 1, at, finalRevision);
  return {
    nodes: 1,
    operations: [...operations, { id: operations.length, ...finalRead }],
    failed: 0,
    errors: {},
    final: [{ node: 0, at, rows: [{ key: 'lab/k0', value: finalValue, modRevision: finalRevision }] }],
    faultCounts: { kill: 1 },
    timeline: [
      { at: 2_500, text: 'start #0 kill -9 node-0, restart on its data dir' },
      { at: 6_000, text: 'end   #0 kill -9 node-0, restart on its data dir (restarted, answering)' },
    ],
  };
}

describe('store checker', () => {
  const written = ops(put(1, 'lab/k0', 'a', 1_000, 1_100, 5), put(2, 'lab/k0', 'b', 3_000, 3_100, 7));

  it('passes a history where the last acknowledged write is what every node reads at the end', () => {
    const result = checkStore(history(written, 'b', 7));
    assert.deepEqual(result.violations, []);
    assert.equal(result.valid, true);
    assert.deepEqual(result.figures.outcomes, { ok: 2, failed: 0, unknown: 0 });
  });

  it('reports a lost acknowledged write, naming it and the final read, with the operations and faults around it', () => {
    const result = checkStore(history(written, 'a', 5));
    assert.equal(result.valid, false);
    const lost = result.violations.find((v) => v.kind === 'lost-write');
    assert.ok(lost, JSON.stringify(result.violations, null, 2));
    assert.match(lost.message, /acknowledged write of "b" to lab\/k0 at revision 7 \(#1\) is missing/);
    assert.match(lost.message, /final read through node-0: lab\/k0 = "a" @ rev 5/);
    const around = lost.around.map((e) => e.text).join('\n');
    assert.match(around, /#1 {2}client 2 {2}\[3000, 3100\] {2}put\(lab\/k0, "b"\) -> ok @ rev 7/);
    assert.match(around, /start #0 kill -9 node-0/);
    // The final read is in the history too, so the linearizability check sees it as well.
    const kinds = result.violations.map((v) => v.kind).sort();
    assert.deepEqual(kinds, ['lost-write', 'not-linearizable']);
  });

  it('reports a stale read: a read after an acknowledged write that returns the value before it', () => {
    const stale = ops(...written.map(({ id: _, ...op }) => op), get(3, 'lab/k0', 'a', 4_000, 4_100, 5));
    const result = checkStore(history(stale, 'b', 7));
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.violations.map((v) => v.kind),
      ['not-linearizable'],
    );
    const v = result.violations[0]!;
    assert.match(v.message, /key "lab\/k0"/);
    const around = v.around.map((e) => e.text).join('\n');
    assert.match(around, /put\(lab\/k0, "b"\) -> ok @ rev 7/);
    assert.match(around, /#2 {2}client 3 {2}\[4000, 4100\] {2}get\(lab\/k0\) -> "a" @ rev 5/);
    // Printed as a person reads it: the first violation and the events around it.
    const text = formatReport({
      outcome: 'invalid',
      workload: 'store',
      seed: 1,
      command: 'npm run lab -- store',
      violations: result.violations,
      figures: result.figures,
      logDir: '/tmp/x',
      cleanupProblems: [],
    });
    assert.match(text, /first violation \[not-linearizable\]/);
    assert.match(text, /get\(lab\/k0\) -> "a" @ rev 5/);
  });

  it('accepts a final value written by a write of unknown outcome, and reports one nobody wrote', () => {
    const unknown = ops(put(1, 'lab/k0', 'a', 1_000, 1_100, 5), {
      clientId: 2,
      input: { type: 'put', key: 'lab/k0', value: 'c' },
      call: 3_000,
      ret: Number.POSITIVE_INFINITY,
      output: UNKNOWN,
    });
    assert.deepEqual(checkStore(history(unknown, 'c', 9)).violations, []);
    const phantom = checkStore(history(written, 'z', 9));
    assert.ok(
      phantom.violations.some((v) => v.kind === 'phantom-value' && /no operation wrote it/.test(v.message)),
    );
  });

  it('is what npm run lab -- check finds again in a saved history', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-store-recheck-'));
    const h = history(written, 'a', 5);
    writeFileSync(
      join(dir, STORE_HISTORY_FILE),
      JSON.stringify({ workload: 'store', history: { ...h, operations: serializeOperations(h.operations) } }),
    );
    const report = recheck(dir);
    assert.equal(report.outcome, 'invalid');
    assert.ok(report.violations.some((v) => v.kind === 'lost-write'));
  });
});
