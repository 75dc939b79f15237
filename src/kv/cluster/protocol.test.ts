import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode, isCairnError, ManualClock, utf8 } from '../../core/index.js';
import { isKvError } from '../errors.js';
import type { Cell } from '../types.js';
import {
  cellFromWire,
  cellToWire,
  keyedFromWire,
  keyedToWire,
  ReplicaRead,
  ReplicaReadMany,
  ReplicaScan,
  ReplicaWrite,
  rangeFromWire,
  rangeToWire,
  tokenFromWire,
  tokenToWire,
} from './protocol.js';
import { SkewMonitor } from './skew.js';

const MAX = (1n << 64n) - 1n;

describe('kv cluster wire format', () => {
  it('round-trips tokens, ranges and cells through the codec', () => {
    for (const t of [0n, 1n, 255n, 1n << 63n, MAX]) assert.equal(tokenFromWire(tokenToWire(t)), t);
    const range = { start: MAX, end: 12345n };
    assert.deepEqual(rangeFromWire(rangeToWire(range)), range);
    const cells: Cell[] = [
      { version: { wall: 1_700_000_000_000, logical: 7, node: 0xffff_ffff }, value: utf8('v') },
      { version: { wall: 1, logical: 0, node: 0 }, value: undefined },
      { version: { wall: 2, logical: 65535, node: 3 }, value: new Uint8Array(0), expiresAt: 99 },
    ];
    const request = {
      from: 'a',
      hlc: { w: 5, l: 0, n: 1 },
      kind: 'write' as const,
      cells: keyedToWire(cells.map((cell, i) => ({ key: utf8(`k${i}`), cell }))),
    };
    const back = decode(encode(request), ReplicaWrite.request);
    const got = keyedFromWire(back.cells);
    const plain = (c: Cell): Cell => ({
      ...c,
      value: c.value === undefined ? undefined : new Uint8Array(c.value),
    });
    assert.deepEqual(
      got.map((g) => plain(g.cell)),
      cells,
    );
    assert.deepEqual(cellFromWire(cellToWire(cells[2]!)), cells[2]);
  });

  it('rejects malformed requests with DECODE_FAILED, never anything else', () => {
    const bad: unknown[] = [
      null,
      {},
      { from: 'a', hlc: { w: 1, l: 0, n: 0 }, key: new Uint8Array(0), digest: true }, // empty key
      { from: 'a', hlc: { w: -1, l: 0, n: 0 }, key: utf8('k'), digest: true },
      { from: 'a', hlc: { w: 1, l: 70000, n: 0 }, key: utf8('k'), digest: true },
      { from: 'a', hlc: { w: 1, l: 0, n: 2 ** 32 }, key: utf8('k'), digest: true },
      { from: '', hlc: { w: 1, l: 0, n: 0 }, key: utf8('k'), digest: true },
      { from: 'a', hlc: { w: 1, l: 0, n: 0 }, key: 'k', digest: true },
    ];
    for (const b of bad) {
      assert.throws(
        () => ReplicaRead.request(b),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    }
    const scan = {
      from: 'a',
      hlc: { w: 1, l: 0, n: 0 },
      range: { s: new Uint8Array(7), e: new Uint8Array(8) },
      limit: 1,
    };
    assert.throws(
      () => ReplicaScan.request(scan),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
    assert.throws(
      () =>
        ReplicaScan.request({ ...scan, range: { s: new Uint8Array(8), e: new Uint8Array(8) }, limit: 1e9 }),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
    const write = { from: 'a', hlc: { w: 1, l: 0, n: 0 }, kind: 'write', cells: [] };
    assert.throws(
      () => ReplicaWrite.request(write),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
    assert.throws(
      () =>
        ReplicaWrite.request({ ...write, kind: 'evil', cells: [{ k: utf8('k'), c: { w: 1, l: 0, n: 0 } }] }),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
  });
});

describe('kv.readMany wire format', () => {
  it('round-trips keys and per-key answers, and refuses malformed ones with DECODE_FAILED', () => {
    const hlc = { w: 5, l: 0, n: 1 };
    const request = {
      from: 'a',
      hlc,
      keys: [
        { k: utf8('x'), d: true },
        { k: utf8('y'), d: false },
      ],
    };
    const back = decode(encode(request), ReplicaReadMany.request);
    assert.deepEqual(
      back.keys.map((i) => [new TextDecoder().decode(i.k), i.d]),
      [
        ['x', true],
        ['y', false],
      ],
    );
    const answer = {
      hlc,
      answers: [
        { d: new Uint8Array(32) },
        { c: cellToWire({ version: { wall: 1, logical: 0, node: 2 }, value: utf8('v') }) },
        { c: null },
        { e: 'DECODE_FAILED: corrupt' },
      ],
    };
    const got = decode(encode(answer), ReplicaReadMany.response);
    assert.equal(got.answers.length, 4);
    assert.equal(got.answers[2]!.c, null);
    assert.equal(got.answers[3]!.e, 'DECODE_FAILED: corrupt');
    const bad: unknown[] = [
      { ...request, keys: [] },
      { ...request, keys: [{ k: new Uint8Array(0), d: true }] },
      { ...request, keys: [{ k: utf8('x') }] },
      { ...request, keys: Array.from({ length: 1025 }, () => ({ k: utf8('x'), d: true })) },
    ];
    for (const b of bad)
      assert.throws(
        () => ReplicaReadMany.request(b),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    assert.throws(
      () => ReplicaReadMany.response({ hlc, answers: [{ e: 'x'.repeat(257) }] }),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
  });
});

describe('SkewMonitor', () => {
  it('refuses only when most recent peers disagree, and names the direction', () => {
    const clock = new ManualClock(1_000_000);
    const m = new SkewMonitor(clock, 500, 60_000);
    assert.equal(m.verdict(), undefined);
    m.record('b', clock.now() + 2_000); // one peer far ahead: a minority
    m.record('c', clock.now() + 10);
    m.record('d', clock.now() - 20);
    assert.equal(m.verdict(), undefined);
    m.record('c', clock.now() + 1_500); // c stepped 1.5 s: the readings of b and d predate it
    assert.equal(m.steps, 1);
    m.record('b', clock.now() + 2_000);
    m.record('d', clock.now() - 20);
    const why = m.verdict();
    assert.match(why ?? '', /trails 2 of 3 peers by up to 2000 ms/);
    assert.throws(() => m.check(), /maxClockOffsetMs=500/);
    // Readings age out: after the TTL, fresh agreeing readings clear the verdict.
    clock.advance(61_000);
    m.record('d', clock.now());
    assert.equal(m.verdict(), undefined);
    m.record('b', clock.now() - 5_000);
    m.record('c', clock.now() - 5_000);
    assert.match(m.verdict() ?? '', /is ahead of 2 of 3 peers/);
  });

  it('drops readings taken before a clock step, so a node whose clock jumped ahead refuses', () => {
    // Seed 361 of the kv swarm: n1 heard n3 (agreeing), then its clock jumped 2 s ahead, then it
    // heard n2 (now 2 s behind it) and was cut off from both. Counting n3's pre-jump reading as
    // agreeing, it saw 1 of 2 peers off and kept coordinating; a ONE read through it judged a TTL
    // cell expired 2 s early and hid an acknowledged write.
    const clock = new ManualClock(1_000_000);
    let alive = 2;
    const m = new SkewMonitor(clock, 500, 10_000, () => alive);
    m.record('n2', clock.now() - 20);
    m.record('n3', clock.now() - 17);
    clock.advance(900);
    assert.equal(m.verdict(), undefined);
    const jump = 2_000;
    const trueNow = () => clock.now() - jump;
    clock.advance(jump); // this node's clock steps ahead (true time did not move)
    clock.advance(2_900);
    m.record('n2', trueNow() - 15);
    assert.equal(m.steps, 1);
    assert.deepEqual(Object.keys(m.snapshot()), ['n2'], 'the pre-step reading of n3 is dropped');
    alive = 0; // partitioned from both
    clock.advance(600);
    assert.match(m.verdict() ?? '', /is ahead of 1 of 1 peers by up to 20\d\d ms/);
    assert.throws(
      () => m.check(),
      (e) => isKvError(e, 'CLOCK_SKEW'),
    );
    // Once it hears n3 again (also 2 s behind), it is 2 of 2 whatever membership says.
    alive = 2;
    m.record('n3', trueNow() - 10);
    assert.match(m.verdict() ?? '', /is ahead of 2 of 2 peers/);
  });

  it("keeps other readings when a peer's offset moves less than the bound or its last reading is old", () => {
    const clock = new ManualClock(1_000_000);
    const m = new SkewMonitor(clock, 500, 10_000);
    m.record('b', clock.now() + 10);
    m.record('c', clock.now() - 10);
    m.record('b', clock.now() + 400); // moved 390 ms: network delay and drift, not a step
    assert.equal(m.steps, 0);
    assert.deepEqual(Object.keys(m.snapshot()).sort(), ['b', 'c']);
    clock.advance(10_001);
    m.record('c', clock.now());
    m.record('b', clock.now() - 3_000); // its last reading had aged out: nothing to compare with
    assert.equal(m.steps, 0);
    assert.deepEqual(Object.keys(m.snapshot()).sort(), ['b', 'c']);
  });

  it('heardAny says whether some reading is recent, as heard() > 0 does', () => {
    const clock = new ManualClock(1_000_000);
    const m = new SkewMonitor(clock, 500, 10_000);
    assert.equal(m.heardAny(), false);
    m.record('b', clock.now());
    clock.advance(5_000);
    m.record('c', clock.now());
    assert.equal(m.heardAny(), true);
    clock.advance(5_001);
    assert.equal(m.heard(), 1);
    assert.equal(m.heardAny(), true);
    clock.advance(5_000);
    assert.equal(m.heard(), 0);
    assert.equal(m.heardAny(), false);
  });
});
