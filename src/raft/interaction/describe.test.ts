import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Entry, Message } from '../types.js';
import { describeBytes, describeHardState, describeMessage, describeReady } from './describe.js';

const enc = new TextEncoder();
const entry = (term: number, index: number, data: string): Entry => ({
  term,
  index,
  type: 'normal',
  data: enc.encode(data),
});
const msg = (over: Partial<Message>): Message => ({
  type: 'app',
  from: 1,
  to: 2,
  term: 1,
  logTerm: 1,
  index: 3,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  ...over,
});

describe('describe', () => {
  it('writes messages in etcd-io/raft form', () => {
    assert.equal(
      describeMessage(msg({ commit: 3, entries: [entry(1, 4, 'x')] })),
      '1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[1/4 EntryNormal "x"]',
    );
    assert.equal(
      describeMessage(msg({ type: 'appResp', from: 2, to: 1, reject: true, rejectHint: 7 })),
      '2->1 MsgAppResp Term:1 Log:1/3 Rejected (Hint: 7)',
    );
    assert.equal(
      describeMessage(msg({ entries: [entry(1, 4, ''), entry(2, 5, 'y')] })),
      '1->2 MsgApp Term:1 Log:1/3 Entries:[\n  1/4 EntryNormal ""\n  2/5 EntryNormal "y"\n]',
    );
  });

  it('shows conf entries through the decoder, and undecodable ones as such', () => {
    const conf: Entry = { term: 2, index: 6, type: 'conf', data: new Uint8Array([1]) };
    const m = msg({ entries: [conf] });
    assert.match(
      describeMessage(m, () => ({ type: 'addLearner', nodeId: 4 })),
      /2\/6 EntryConfChange addLearner=4/,
    );
    assert.match(
      describeMessage(m, () => undefined),
      /EntryConfChange <undecodable 0x01>/,
    );
  });

  it('shows bytes as text when printable, else hex', () => {
    assert.equal(describeBytes(enc.encode('a"b')), '"a\\"b"');
    assert.equal(describeBytes(new Uint8Array([0xff, 0x00])), '0xff00');
    assert.equal(describeBytes(new Uint8Array([0x01])), '0x01');
  });

  it('writes a Ready section by section, omitting empty ones', () => {
    const text = describeReady({
      softState: { leader: 1, role: 'leader' },
      hardState: { term: 2, vote: 1, commit: 3 },
      entries: [entry(2, 4, '')],
      committedEntries: [],
      messages: [msg({ term: 2 })],
      readStates: [{ index: 3, requestCtx: enc.encode('r1') }],
      mustSync: true,
    });
    assert.equal(
      text,
      [
        'Ready MustSync=true:',
        'Lead:1 State:StateLeader',
        'HardState Term:2 Vote:1 Commit:3',
        'Entries:',
        '2/4 EntryNormal ""',
        'Messages:',
        '1->2 MsgApp Term:2 Log:1/3',
        'ReadStates:',
        'Index:3 Context:"r1"',
      ].join('\n'),
    );
    assert.equal(describeHardState({ term: 5, vote: 0, commit: 1 }), 'HardState Term:5 Commit:1');
  });
});
