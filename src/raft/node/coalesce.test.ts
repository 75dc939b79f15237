import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MessageFields, makeMessage } from '../core/message.js';
import type { Entry, Message } from '../types.js';
import { coalesceMessages } from './coalesce.js';

const MAX = 1024 * 1024;

function entry(term: number, index: number, bytes = 4): Entry {
  return { term, index, type: 'normal', data: new Uint8Array(bytes) };
}

function app(f: Partial<MessageFields> & { index: number; logTerm: number; entries: Entry[] }): Message {
  return makeMessage({ type: 'app', from: 1, to: 2, term: 3, commit: 5, ...f });
}

function ack(index: number, f: Partial<MessageFields> = {}): Message {
  return makeMessage({ type: 'appResp', from: 2, to: 1, term: 3, index, ...f });
}

test('contiguous appends in one term merge into one with both entry lists and the later commit', () => {
  const a = app({ index: 10, logTerm: 3, entries: [entry(3, 11)] });
  const b = app({ index: 11, logTerm: 3, entries: [entry(3, 12), entry(3, 13)], commit: 7 });
  const c = app({ index: 13, logTerm: 3, entries: [entry(3, 14)], commit: 8 });
  const out = coalesceMessages([a, b, c], MAX);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.index, 10);
  assert.equal(out[0]!.logTerm, 3);
  assert.equal(out[0]!.commit, 8);
  assert.deepEqual(
    out[0]!.entries.map((e) => e.index),
    [11, 12, 13, 14],
  );
});

test('appends that do not continue each other, or change term, stay apart', () => {
  const a = app({ index: 10, logTerm: 3, entries: [entry(3, 11)] });
  const gap = app({ index: 12, logTerm: 3, entries: [entry(3, 13)] });
  const wrongTerm = app({ index: 11, logTerm: 2, entries: [entry(3, 12)] });
  const newTerm = app({ index: 11, logTerm: 3, entries: [entry(4, 12)], term: 4 });
  const empty = app({ index: 11, logTerm: 3, entries: [] });
  for (const b of [gap, wrongTerm, newTerm, empty]) assert.equal(coalesceMessages([a, b], MAX).length, 2);
});

test('a merged append stays within maxBytes of entries', () => {
  const a = app({ index: 10, logTerm: 3, entries: [entry(3, 11, 600)] });
  const b = app({ index: 11, logTerm: 3, entries: [entry(3, 12, 600)] });
  const c = app({ index: 12, logTerm: 3, entries: [entry(3, 13, 300)] });
  const out = coalesceMessages([a, b, c], 1000);
  assert.deepEqual(
    out.map((m) => m.entries.map((e) => e.index)),
    [[11], [12, 13]],
  );
});

test('only adjacent messages merge: order with other types is kept', () => {
  const a = app({ index: 10, logTerm: 3, entries: [entry(3, 11)] });
  const hb = makeMessage({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: 5 });
  const b = app({ index: 11, logTerm: 3, entries: [entry(3, 12)] });
  const out = coalesceMessages([a, hb, b], MAX);
  assert.deepEqual(
    out.map((m) => m.type),
    ['app', 'heartbeat', 'app'],
  );
});

test('accepting acks in one term collapse to the last; rejections and term changes stay', () => {
  assert.deepEqual(
    coalesceMessages([ack(11), ack(12), ack(14)], MAX).map((m) => m.index),
    [14],
  );
  const reject = ack(9, { reject: true, rejectHint: 8 });
  assert.equal(coalesceMessages([ack(11), reject, ack(12)], MAX).length, 3);
  assert.equal(coalesceMessages([ack(11), ack(12, { term: 4 })], MAX).length, 2);
  assert.equal(coalesceMessages([ack(12), ack(11)], MAX).length, 2);
});

test('input is not modified', () => {
  const a = app({ index: 10, logTerm: 3, entries: [entry(3, 11)] });
  const b = app({ index: 11, logTerm: 3, entries: [entry(3, 12)] });
  const list = [a, b];
  coalesceMessages(list, MAX);
  assert.equal(list.length, 2);
  assert.equal(a.entries.length, 1);
});
