import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCode, formatReport, parseLabArgs } from './cli.js';
import { replayCommand } from './run-lab.js';
import { labTiming } from './timing.js';

describe('parseLabArgs', () => {
  it('reads the issue surface, with defaults', () => {
    const o = parseLabArgs([
      'membership',
      '--nodes',
      '5',
      '--nemesis',
      'kill,pause',
      '--duration',
      '30',
      '--seed',
      '9',
      '--json',
    ]);
    assert.ok(o !== 'help');
    assert.equal(o.workload, 'membership');
    assert.equal(o.nodes, 5);
    assert.deepEqual(o.nemesis, ['kill', 'pause']);
    assert.equal(o.durationS, 30);
    assert.equal(o.seed, 9);
    assert.equal(o.json, true);
    assert.equal(o.preset, 'local');
    assert.equal(o.lossPercent, 10);
    const { json: _j, ...rest } = o;
    assert.equal(
      replayCommand({ ...rest, progress: () => {}, signal: new AbortController().signal }),
      'npm run lab -- membership --nodes 5 --nemesis kill,pause --duration 30 --seed 9 --loss 10 --preset local --max-skew-ms 60000',
    );
  });

  it('names what is wrong', () => {
    assert.throws(() => parseLabArgs([]), /name a workload/);
    assert.throws(
      () => parseLabArgs(['redis']),
      /unknown workload "redis"; the lab has membership, store, kv/,
    );
    assert.throws(() => parseLabArgs(['membership', '--nemesis', 'kill,flood']), /unknown fault "flood"/);
    assert.throws(() => parseLabArgs(['membership', '--nodes', '0']), /--nodes must be an integer 1-32/);
    assert.throws(() => parseLabArgs(['membership', '--preset', 'fast']), /--preset must be one of/);
    assert.throws(() => parseLabArgs(['membership', '--bogus']), /bogus/);
  });
});

describe('formatReport', () => {
  const base = {
    workload: 'membership',
    seed: 3,
    command: 'npm run lab -- membership --seed 3',
    cleanupProblems: [],
  };

  it('says in one line that the lab cannot run here', () => {
    const r = {
      ...base,
      outcome: 'unavailable' as const,
      violations: [],
      figures: {},
      error: 'the fault lab needs root',
    };
    assert.equal(formatReport(r), 'lab skipped: the fault lab needs root\n');
    assert.equal(exitCode(r), 3);
  });

  it('prints the first violation with the events around it, the figures, the log and the replay command', () => {
    const text = formatReport({
      ...base,
      outcome: 'invalid',
      violations: [
        {
          kind: 'false-death',
          at: 12_000,
          message: 'node-1 declared node-0 dead',
          around: [{ at: 11_500, text: 'start #3 loss 10%' }],
        },
      ],
      figures: { falseDeaths: 1, faults: { loss: 1 } },
      logDir: '/tmp/run',
    });
    assert.match(text, /result: INVALID .*1 violation/);
    assert.match(text, /first violation \[false-death\] at 12\.0s: node-1 declared node-0 dead/);
    assert.match(text, /11\.500s start #3 loss 10%/);
    assert.match(text, /falseDeaths: 1/);
    assert.match(text, /faults: loss 1/);
    assert.match(text, /log: \/tmp\/run\nrepeat: npm run lab -- membership --seed 3\n$/);
  });
});

describe('labTiming', () => {
  it('derives kill durations no shorter than the detection bound, and a shadow past the longest suspicion', () => {
    const t = labTiming('local', 3);
    // local: probe 1 s, timeout 200 ms, suspicion 3 x probe, up to 6 x that.
    assert.equal(t.detectBoundMs, 3000 + 3000 + 200 + 1000);
    assert.equal(t.shadowMs, 2000 + 200 + 18_000 + 1000);
    assert.equal(t.schedule.killMs[0], t.detectBoundMs);
    // Two nodes cannot confirm a suspicion: the bound is the longest timeout.
    assert.ok(labTiming('local', 2).detectBoundMs > 18_000);
  });
});
