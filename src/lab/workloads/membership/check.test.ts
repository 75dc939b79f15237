import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMembership, stats } from './check.js';
import type { MembershipHistory, Observation } from './history.js';

const OPTIONS = { shadowMs: 5_000, detectBoundMs: 4_000 };

function obs(
  at: number,
  observer: number,
  member: number,
  from: Observation['from'],
  to: Observation['to'],
  incarnation = 0,
): Observation {
  return { at, observer, member, from, to, generation: 1, incarnation };
}

/** Three nodes, node-2 killed at 10 s for 6 s, seen dead by both others, all agreeing at the end. */
function cleanHistory(): MembershipHistory {
  const alive = { 0: 'alive@1', 1: 'alive@1', 2: 'alive@2' };
  return {
    nodes: 3,
    faultCounts: { kill: 1 },
    cuts: [],
    kills: [{ node: 2, from: 10_000, to: 16_000 }],
    outages: [{ node: 2, kind: 'down', from: 10_000, to: 16_000 }],
    observations: [
      ...[0, 1, 2].flatMap((x) => [0, 1, 2].map((m) => obs(1_000, x, m, 'absent', 'alive'))),
      obs(12_500, 0, 2, 'alive', 'suspect'),
      obs(13_000, 0, 2, 'suspect', 'dead'),
      obs(13_020, 1, 2, 'alive', 'dead'),
      obs(16_100, 0, 2, 'dead', 'alive'),
      obs(16_150, 1, 2, 'dead', 'alive'),
    ],
    timeline: [
      { at: 10_000, text: 'start kill node-2' },
      { at: 16_000, text: 'end kill node-2' },
    ],
    final: { healedAt: 16_000, convergedAt: 16_200, views: { 0: alive, 1: alive, 2: alive } },
  };
}

describe('checkMembership', () => {
  it('accepts a history where the killed node is declared dead by every live node and views agree', () => {
    const result = checkMembership(cleanHistory(), OPTIONS);
    assert.deepEqual(result.violations, []);
    assert.equal(result.valid, true);
    assert.equal(result.figures.deaths, 1);
    assert.equal(result.figures.falseDeaths, 0);
    assert.equal(result.figures.killsChecked, 1);
    assert.deepEqual(result.figures.firstDetectMs, {
      count: 1,
      min: 3000,
      median: 3000,
      p99: 3000,
      max: 3000,
    });
    assert.equal(result.figures.fullDetectMs.max, 3020);
    assert.equal(result.figures.convergeMs, 200);
  });

  it('reports a planted false death: a running, reachable node declared dead, with the events around it', () => {
    const h = cleanHistory();
    h.observations.push(obs(40_000, 1, 0, 'alive', 'dead', 3), obs(40_010, 2, 0, 'alive', 'dead', 3));
    h.observations.sort((a, b) => a.at - b.at);
    const result = checkMembership(h, OPTIONS);
    assert.equal(result.valid, false);
    assert.equal(result.figures.falseDeaths, 1);
    const v = result.violations[0]!;
    assert.equal(v.kind, 'false-death');
    assert.equal(v.at, 40_000);
    assert.match(v.message, /node-1 declared node-0 dead/);
    assert.ok(v.around.some((e) => e.text.includes('node-1 sees node-0 alive -> dead')));
  });

  it('does not count a death while a cut touched the member, or within the shadow of its pause', () => {
    const h = cleanHistory();
    h.cuts.push({ from: 0, to: 1, start: 30_000, end: 34_000 });
    h.observations.push(obs(33_000, 0, 1, 'alive', 'dead', 1));
    h.outages.push({ node: 0, kind: 'paused', from: 50_000, to: 52_000 });
    h.observations.push(obs(56_000, 1, 0, 'alive', 'dead', 2));
    h.observations.sort((a, b) => a.at - b.at);
    const result = checkMembership(h, OPTIONS);
    assert.equal(result.figures.deaths, 3);
    assert.equal(result.figures.falseDeaths, 0, JSON.stringify(result.violations));
    // The same pause, but the death comes after the shadow: false.
    const later = cleanHistory();
    later.outages.push({ node: 0, kind: 'paused', from: 50_000, to: 52_000 });
    later.observations.push(obs(57_500, 1, 0, 'alive', 'dead', 2));
    assert.equal(checkMembership(later, OPTIONS).figures.falseDeaths, 1);
  });

  it('counts one declaration once however many nodes see it', () => {
    const h = cleanHistory();
    h.observations.push(obs(40_000, 1, 0, 'alive', 'dead', 3), obs(40_300, 2, 0, 'suspect', 'dead', 3));
    h.observations.sort((a, b) => a.at - b.at);
    assert.equal(checkMembership(h, OPTIONS).figures.falseDeaths, 1);
  });

  it('reports a kill that a live node never declared dead, but not a short kill, one under a partition or loss, or a paused observer', () => {
    const h = cleanHistory();
    h.observations = h.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    const result = checkMembership(h, OPTIONS);
    assert.equal(result.valid, false);
    assert.equal(result.violations[0]!.kind, 'undetected-kill');
    assert.match(result.violations[0]!.message, /node-1 never declared it dead/);

    const paused = cleanHistory();
    paused.observations = paused.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    paused.outages.push({ node: 1, kind: 'paused', from: 11_000, to: 12_000 });
    assert.equal(checkMembership(paused, OPTIONS).valid, true);

    const partitioned = cleanHistory();
    partitioned.observations = partitioned.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    partitioned.cuts.push({ from: 0, to: 1, start: 11_000, end: 12_000 });
    // Under a cut, a kill must outlast the shadow (7 s here) to be required: this 6 s one is not.
    assert.equal(checkMembership(partitioned, { ...OPTIONS, shadowMs: 7_000 }).valid, true);
    assert.equal(checkMembership(partitioned, { ...OPTIONS, shadowMs: 5_500 }).valid, false);

    const unaware = cleanHistory();
    unaware.observations = unaware.observations.filter((o) => o.observer !== 1);
    unaware.observations.push(obs(16_150, 1, 2, 'absent', 'alive'));
    assert.equal(checkMembership(unaware, OPTIONS).valid, true, 'node-1 never listed node-2 before the kill');

    // node-1 restarted just before the kill; its first view after the restart lacks node-2.
    const restarted = cleanHistory();
    restarted.observations = restarted.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    restarted.outages.push({ node: 1, kind: 'down', from: 8_000, to: 9_999 });
    restarted.observations.push(obs(10_300, 1, 2, 'alive', 'absent'));
    restarted.observations.sort((a, b) => a.at - b.at);
    assert.equal(
      checkMembership(restarted, OPTIONS).valid,
      true,
      'a stale view of a restarted node counts as unaware',
    );

    const lossy = cleanHistory();
    lossy.observations = lossy.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    lossy.losses = [{ percent: 10, start: 9_000, end: 11_000 }];
    assert.equal(checkMembership(lossy, { ...OPTIONS, shadowMs: 7_000 }).valid, true);

    // Under a cut, node-1 suspected node-2 late (12 s): with a 5 s window its suspicion could not
    // run out before the restart at 16 s, so it is excused; one raised at 10.5 s could have.
    const late = cleanHistory();
    late.observations = late.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    late.cuts.push({ from: 0, to: 1, start: 11_000, end: 15_000 });
    late.observations.push(obs(12_000, 1, 2, 'alive', 'suspect'));
    late.observations.sort((a, b) => a.at - b.at);
    assert.equal(
      checkMembership(late, { ...OPTIONS, shadowMs: 5_500 }).valid,
      false,
      'no window: not excused',
    );
    assert.equal(
      checkMembership(late, { ...OPTIONS, shadowMs: 5_500, suspicionWindowMs: 5_000 }).valid,
      true,
    );
    const early = cleanHistory();
    early.observations = early.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    early.cuts.push({ from: 0, to: 1, start: 11_000, end: 15_000 });
    early.observations.push(obs(10_500, 1, 2, 'alive', 'suspect'));
    early.observations.sort((a, b) => a.at - b.at);
    assert.equal(
      checkMembership(early, { ...OPTIONS, shadowMs: 5_500, suspicionWindowMs: 5_000 }).valid,
      false,
    );

    const short = cleanHistory();
    short.observations = short.observations.filter((o) => !(o.observer === 1 && o.at > 5_000));
    assert.equal(checkMembership(short, { ...OPTIONS, detectBoundMs: 7_000 }).valid, true);
  });

  it('reports views that did not agree after the heal', () => {
    const h = cleanHistory();
    h.final = { healedAt: 16_000, views: { 0: { 2: 'dead@1' }, 1: { 2: 'alive@2' } } };
    const result = checkMembership(h, OPTIONS);
    assert.equal(result.valid, false);
    assert.equal(result.violations[0]!.kind, 'views-disagree');
    assert.match(result.violations[0]!.message, /node-0: node-2=dead@1; node-1: node-2=alive@2/);
    assert.equal(result.figures.convergeMs, undefined);
  });
});

describe('stats', () => {
  it('gives nearest-rank percentiles', () => {
    assert.deepEqual(stats([]), { count: 0 });
    const s = stats(Array.from({ length: 100 }, (_, i) => 100 - i));
    assert.equal(s.median, 50);
    assert.equal(s.p99, 99);
    assert.equal(s.max, 100);
  });
});
