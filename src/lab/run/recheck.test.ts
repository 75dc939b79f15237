import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MembershipHistory } from '../workloads/membership/history.js';
import { HISTORY_FILE } from '../workloads/membership/workload.js';
import { recheck } from './recheck.js';

function history(): MembershipHistory {
  return {
    nodes: 2,
    faultCounts: {},
    cuts: [],
    kills: [],
    outages: [],
    observations: [
      { at: 30_000, observer: 0, member: 1, from: 'alive', to: 'dead', generation: 1, incarnation: 0 },
    ],
    timeline: [],
    final: { healedAt: 40_000, convergedAt: 40_500, views: {} },
  };
}

describe('recheck', () => {
  it('checks a saved history again, with other windows when asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-recheck-'));
    const saved = {
      workload: 'membership',
      options: { shadowMs: 5_000, detectBoundMs: 4_000 },
      history: history(),
    };
    writeFileSync(join(dir, HISTORY_FILE), JSON.stringify(saved));
    const report = recheck(dir);
    assert.equal(report.outcome, 'invalid');
    assert.equal(report.violations[0]?.kind, 'false-death');
    assert.equal(report.command, `npm run lab -- check ${dir}`);
  });

  it('checks a saved kv history again, and refuses a malformed one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-recheck-'));
    const lost = {
      nodes: 1,
      ops: [
        {
          id: 0,
          client: 0,
          node: 0,
          key: 'k',
          type: 'set',
          level: 'QUORUM',
          value: 'c0-0',
          call: 0,
          ret: 10,
          outcome: 'ok',
        },
        {
          id: 1,
          client: 1000,
          node: 0,
          key: 'k',
          type: 'get',
          level: 'ALL',
          call: 5_000,
          ret: 5_010,
          outcome: 'ok',
          read: null,
        },
      ],
      finalFailures: [],
      repaired: true,
      repair: 'test',
      slackMs: 1_000,
      errors: {},
      faultCounts: {},
      timeline: [],
      skews: [],
    };
    writeFileSync(join(dir, HISTORY_FILE), JSON.stringify({ workload: 'kv', history: lost }));
    const report = recheck(dir);
    assert.equal(report.workload, 'kv');
    assert.deepEqual(
      report.violations.map((v) => v.kind),
      ['lost-write'],
    );
    const malformed = { ...lost, ops: [{ ...lost.ops[0], ret: null, outcome: 'ok' }] };
    writeFileSync(join(dir, HISTORY_FILE), JSON.stringify({ workload: 'kv', history: malformed }));
    assert.throws(() => recheck(dir), /operation 0 is malformed/);
  });

  it('refuses a file that is not a lab history, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-recheck-'));
    assert.throws(() => recheck(dir), /cannot read .*history\.json/);
    writeFileSync(
      join(dir, HISTORY_FILE),
      JSON.stringify({
        workload: 'membership',
        options: { shadowMs: 1, detectBoundMs: 1 },
        history: { nodes: 2, final: {} },
      }),
    );
    assert.throws(() => recheck(dir), /history\.cuts must be a list/);
  });
});
