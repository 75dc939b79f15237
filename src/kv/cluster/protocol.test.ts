import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode, isCairnError, ManualClock, utf8 } from '../../core/index.js';
import type { Cell } from '../types.js';
import {
  cellFromWire,
  cellToWire,
  keyedFromWire,
  keyedToWire,
  ReplicaRead,
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

describe('SkewMonitor', () => {
  it('refuses only when most recent peers disagree, and names the direction', () => {
    const clock = new ManualClock(1_000_000);
    const m = new SkewMonitor(clock, 500, 60_000);
    assert.equal(m.verdict(), undefined);
    m.record('b', clock.now() + 2_000); // one peer far ahead: a minority
    m.record('c', clock.now() + 10);
    m.record('d', clock.now() - 20);
    assert.equal(m.verdict(), undefined);
    m.record('c', clock.now() + 1_500);
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
});
