import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfState, Entry, HardState, Message, NodeId, RaftRole, Ready, Snapshot } from '../types.js';
import type { InteractionCore, InteractionCoreConfig, InteractionFactory, InteractionLog } from './env.js';
import { InteractionEnv } from './env.js';
import { runLine } from './run.js';

/**
 * A toy log and a toy core, just enough to exercise the environment's mechanics (queueing,
 * delivery, partitions, drops, Ready handling, snapshots) without the real raft core: `campaign`
 * makes a node "leader" and sends a `heartbeat` to every voter; a `heartbeat` is answered; a
 * `propose` on the leader appends and commits at once.
 */
class ToyLog implements InteractionLog {
  hs: HardState = { term: 0, vote: 0, commit: 0 };
  snap: Snapshot = {
    meta: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(),
  };
  ents: Entry[] = [];
  initialState() {
    return { hardState: this.hs, confState: this.snap.meta.confState };
  }
  entries(lo: number, hi: number): Entry[] {
    return this.ents.filter((e) => e.index >= lo && e.index < hi);
  }
  term(index: number): number {
    return index === this.snap.meta.index
      ? this.snap.meta.term
      : (this.ents.find((e) => e.index === index)?.term ?? 0);
  }
  firstIndex(): number {
    return this.snap.meta.index + 1;
  }
  lastIndex(): number {
    return this.ents.at(-1)?.index ?? this.snap.meta.index;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  append(entries: readonly Entry[]): void {
    this.ents = [...this.ents.filter((e) => e.index < entries[0]!.index), ...entries];
  }
  setHardState(hs: HardState): void {
    this.hs = hs;
  }
  applySnapshot(s: Snapshot): void {
    this.snap = s;
    this.ents = this.ents.filter((e) => e.index > s.meta.index);
  }
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.snap = { meta: { index, term: this.term(index), confState }, data };
    return this.snap;
  }
  compact(index: number): void {
    this.ents = this.ents.filter((e) => e.index > index);
  }
}

class ToyCore implements InteractionCore {
  role: RaftRole = 'follower';
  term = 1;
  lead: NodeId = 0;
  commit: number;
  private out: Message[] = [];
  private newEntries: Entry[] = [];
  private committed: Entry[] = [];
  private soft = false;
  constructor(private readonly config: InteractionCoreConfig) {
    this.commit = config.log.initialState().hardState.commit;
  }
  private voters(): readonly NodeId[] {
    return this.config.log.initialState().confState.voters;
  }
  private send(to: NodeId, type: Message['type']): void {
    const m: Message = {
      type,
      from: this.config.id,
      to,
      term: this.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    };
    this.out.push(m);
  }
  tick(): void {}
  campaign(): void {
    this.role = 'leader';
    this.term++;
    this.lead = this.config.id;
    this.soft = true;
    for (const v of this.voters()) if (v !== this.config.id) this.send(v, 'heartbeat');
  }
  propose(data: Uint8Array): void {
    if (this.role !== 'leader') throw Object.assign(new Error('not leader'), { code: 'PROPOSAL_DROPPED' });
    const e: Entry = {
      term: this.term,
      index: this.config.log.lastIndex() + 1 + this.newEntries.length,
      type: 'normal',
      data,
    };
    this.newEntries.push(e);
    this.committed.push(e);
    this.commit = e.index;
  }
  proposeConfChange(): void {}
  applyConfChange(): ConfState {
    return { voters: [], learners: [] };
  }
  step(m: Message): void {
    if (m.type === 'heartbeat') {
      this.term = m.term;
      this.lead = m.from;
      this.send(m.from, 'heartbeatResp');
    }
  }
  readIndex(): void {}
  transferLeader(): void {}
  reportUnreachable(): void {}
  reportSnapshot(): void {}
  hasReady(): boolean {
    return this.out.length > 0 || this.newEntries.length > 0 || this.soft;
  }
  ready(): Ready {
    const rd: Ready = {
      entries: this.newEntries,
      committedEntries: this.committed,
      messages: this.out,
      readStates: [],
      mustSync: this.newEntries.length > 0,
      ...(this.soft ? { softState: { leader: this.lead, role: this.role } } : {}),
    };
    this.out = [];
    this.newEntries = [];
    this.committed = [];
    this.soft = false;
    return rd;
  }
  advance(): void {}
  status() {
    const s = { id: this.config.id, term: this.term, vote: 0, commit: this.commit, applied: this.commit };
    return { ...s, lead: this.lead, role: this.role, confState: this.config.log.initialState().confState };
  }
}

const toyFactory: InteractionFactory = {
  createLog: () => new ToyLog(),
  createCore: (config) => new ToyCore(config),
  decodeConfChange: () => undefined,
};

function run(env: InteractionEnv, lines: string[]): string[] {
  return lines.map((l) => runLine(env, l));
}

describe('interaction environment (toy core)', () => {
  it('bootstraps nodes from a snapshot and reports state changes under the step that caused them', () => {
    const env = new InteractionEnv(toyFactory);
    const [add, campaign, stab] = run(env, ['add-nodes 3 voters=(1,2,3) index=5', 'campaign 1', 'stabilize']);
    assert.equal(add, 'ok');
    assert.equal(campaign, '~ 1 StateLeader term:2 lead:1');
    assert.equal(
      stab,
      [
        '> 1 handling Ready',
        '  Ready MustSync=false:',
        '  Lead:1 State:StateLeader',
        '  Messages:',
        '  1->2 MsgHeartbeat Term:2 Log:0/0',
        '  1->3 MsgHeartbeat Term:2 Log:0/0',
        '> 2 receiving messages',
        '  1->2 MsgHeartbeat Term:2 Log:0/0',
        '    ~ 2 StateFollower term:2 lead:1',
        '> 3 receiving messages',
        '  1->3 MsgHeartbeat Term:2 Log:0/0',
        '    ~ 3 StateFollower term:2 lead:1',
        '> 2 handling Ready',
        '  Ready MustSync=false:',
        '  Messages:',
        '  2->1 MsgHeartbeatResp Term:2 Log:0/0',
        '> 3 handling Ready',
        '  Ready MustSync=false:',
        '  Messages:',
        '  3->1 MsgHeartbeatResp Term:2 Log:0/0',
        '> 1 receiving messages',
        '  2->1 MsgHeartbeatResp Term:2 Log:0/0',
        '  3->1 MsgHeartbeatResp Term:2 Log:0/0',
      ].join('\n'),
    );
    assert.equal(
      run(env, ['raft-state'])[0],
      '1: StateLeader (Voter) Term:2 Lead:1\n2: StateFollower (Voter) Term:2 Lead:1\n3: StateFollower (Voter) Term:2 Lead:1',
    );
  });

  it('drops messages across a partition at delivery and delivers again after heal', () => {
    const env = new InteractionEnv(toyFactory);
    run(env, ['add-nodes 3 voters=(1,2,3)', 'partition (1,2) (3)', 'campaign 1', 'process-ready 1']);
    assert.equal(run(env, ['deliver-msgs 3'])[0], '1->3 MsgHeartbeat Term:2 Log:0/0 DROPPED (partitioned)');
    assert.equal(
      run(env, ['deliver-msgs 2'])[0],
      '1->2 MsgHeartbeat Term:2 Log:0/0\n  ~ 2 StateFollower term:2 lead:1',
    );
    run(env, ['heal', 'campaign 1', 'process-ready 1']);
    assert.equal(run(env, ['drop from=1 to=2'])[0], 'dropped: 1->2 MsgHeartbeat Term:3 Log:0/0');
    assert.equal(
      run(env, ['deliver-msgs'])[0],
      '1->3 MsgHeartbeat Term:3 Log:0/0\n  ~ 3 StateFollower term:3 lead:1',
    );
  });

  it('applies committed entries, snapshots the machine and prints the log', () => {
    const env = new InteractionEnv(toyFactory);
    run(env, ['add-nodes 1 voters=(1) index=2', 'campaign 1', 'propose 1 a', 'propose 1 b', 'stabilize']);
    assert.equal(run(env, ['applied 1'])[0], 'applied:4 ["a" "b"]');
    assert.equal(run(env, ['raft-log 1'])[0], '2/3 EntryNormal "a"\n2/4 EntryNormal "b"');
    assert.equal(run(env, ['compact 1 3'])[0], 'ok');
    assert.equal(run(env, ['raft-log 1'])[0], '2/4 EntryNormal "b"');
    assert.deepEqual(new TextDecoder().decode(env.logOf(1).snapshot().data), '["a"]');
    assert.equal(run(env, ['compact 1 9'])[0], 'error: node 1 has applied 4 < 9');
  });

  it('reports errors of the core and of the script as output, not exceptions', () => {
    const env = new InteractionEnv(toyFactory);
    assert.deepEqual(
      run(env, [
        'add-nodes 1 voters=(1)',
        'propose 1 x',
        'campaign 7',
        'frobnicate',
        'add-nodes 1 voter=(1)',
      ]),
      [
        'ok',
        'error: PROPOSAL_DROPPED',
        'error: no node 7',
        'error: unknown command "frobnicate"',
        'error: add-nodes: unexpected argument(s) voter=',
      ],
    );
  });

  it('log-level none silences set-up commands', () => {
    const env = new InteractionEnv(toyFactory);
    assert.deepEqual(
      run(env, [
        'log-level none',
        'add-nodes 2 voters=(1,2)',
        'campaign 1',
        'stabilize',
        'log-level info',
        'raft-state',
      ]),
      [
        'ok',
        'ok',
        'ok',
        'ok',
        'ok',
        '1: StateLeader (Voter) Term:2 Lead:1\n2: StateFollower (Voter) Term:2 Lead:1',
      ],
    );
  });

  it('reports two leaders in a term and different entries applied at one index, even when quiet', () => {
    const env = new InteractionEnv(toyFactory);
    const out = run(env, [
      'add-nodes 2 voters=(1,2)',
      'log-level none',
      'campaign 1',
      'campaign 2',
      'propose 1 a',
      'propose 2 b',
      'process-ready 1 2',
    ]);
    assert.equal(out[3], 'SAFETY VIOLATION: two leaders in term 2: 1 and 2');
    assert.equal(
      out[6],
      '  SAFETY VIOLATION: node 2 applied 2/2 EntryNormal "b" where another applied 2/2 EntryNormal "a"',
    );
    assert.equal(env.violations.length, 2);
  });
});
