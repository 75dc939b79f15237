/**
 * A stand-in for the raft driver with one member and no log: what is proposed is applied at
 * once, in order (a one-member raft commits on append, so its behaviour as seen by the store is
 * the same, without durability). It can also hold proposals (never committed, to test timeouts)
 * or refuse them as raft does without a leader. Used by the server's unit tests and by
 * {@link startSingleMemberStore}; a real cluster runs RaftNode.
 */
import type { Clock } from '../../core/index.js';
import { encodeConfChange } from '../../raft/core/conf-change.js';
import { RaftError } from '../../raft/errors.js';
import type { ConfChange, ConfState, Entry } from '../../raft/types.js';
import { Lessor, MvccStore } from '../mvcc/index.js';
import type { StoreEngines } from './options.js';
import type { RaftApplierPort, RaftPort, RaftStatusView } from './ports.js';

type Listener = Parameters<RaftPort['onStatusChange']>[0];

/** The single-member stand-in for RaftNode (see the module comment). */
export class LoopbackRaft implements RaftPort {
  role: RaftStatusView['role'] = 'leader';
  lead: number;
  term = 2;
  index = 0;
  /** When true, proposals are accepted but never committed (to test timeouts). */
  hold = false;
  /** When set, propose rejects with this code. */
  failWith: 'NO_LEADER' | 'PROPOSAL_DROPPED' | undefined;
  confState: ConfState;
  progress = new Map<number, { match: number; isLearner: boolean }>();
  proposals = 0;
  /** ReadIndex calls. */
  reads = 0;
  private readonly listeners = new Set<Listener>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    private readonly applier: RaftApplierPort,
    voters: number[] = [id],
  ) {
    this.lead = id;
    // After a restart on kept storage, continue above what the store already applied.
    this.index = applier.appliedIndex();
    this.confState = { voters, learners: [] };
  }

  async propose(data: Uint8Array): Promise<void> {
    this.proposals++;
    if (this.failWith !== undefined) throw new RaftError(this.failWith, 'fake');
    if (this.hold) return;
    this.commit({ term: this.term, index: ++this.index, type: 'normal', data });
  }

  async readIndex(): Promise<number> {
    this.reads++;
    if (this.failWith !== undefined) throw new RaftError('NO_LEADER', 'fake');
    await this.chain;
    return this.index;
  }

  async proposeConfChange(cc: ConfChange): Promise<ConfState> {
    this.commit({ term: this.term, index: ++this.index, type: 'conf', data: encodeConfChange(cc) });
    await this.chain;
    const voters = new Set(this.confState.voters);
    const learners = new Set(this.confState.learners);
    if (cc.type === 'removeNode') {
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
    } else if (cc.type === 'addNode') {
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
    } else if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
    const asc = (a: number, b: number) => a - b;
    this.confState = { voters: [...voters].sort(asc), learners: [...learners].sort(asc) };
    return this.confState;
  }

  status(): RaftStatusView {
    return {
      term: this.term,
      lead: this.lead,
      role: this.role,
      commit: this.index,
      appliedIndex: this.index,
      lastIndex: this.index,
      confState: this.confState,
      progress: this.progress,
    };
  }

  onStatusChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setRole(role: RaftStatusView['role'], lead: number): void {
    this.role = role;
    this.lead = lead;
    this.term++;
    for (const l of this.listeners) l({ leader: lead, role, term: this.term });
  }

  settled(): Promise<void> {
    return this.chain;
  }

  async stop(): Promise<void> {}

  private commit(entry: Entry): void {
    // An apply that throws (storage failure) leaves later entries unapplied, as a stopped raft would.
    this.chain = this.chain.then(() => this.applier.apply([entry]));
  }
}

/** Engines of one member: the loopback raft, the real MVCC store and lessor; `made` exposes them. */
export function loopbackEngines(
  clock: Clock,
  voters?: number[],
): StoreEngines & {
  made: { raft?: LoopbackRaft; mvcc?: MvccStore; lessor?: Lessor };
} {
  const made: { raft?: LoopbackRaft; mvcc?: MvccStore; lessor?: Lessor } = {};
  return {
    made,
    openMvcc: async (storage, header) => {
      made.mvcc = await MvccStore.open(storage, { header, clock });
      return made.mvcc;
    },
    newLessor: () => {
      made.lessor = new Lessor();
      return made.lessor;
    },
    startRaft: async ({ options, applier }) => {
      made.raft = new LoopbackRaft(options.id, applier, voters ?? [options.id]);
      return made.raft;
    },
  };
}
