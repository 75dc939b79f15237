import { Rng } from '../../core/rng.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftLogReader,
  RaftRole,
  Ready,
  Snapshot,
} from '../types.js';
import { CommandError } from './args.js';
import {
  type ConfChangeDecoder,
  describeBytes,
  describeConfChange,
  describeConfState,
  describeEntry,
  describeMessage,
  describeReady,
  describeSnapshot,
  indent,
  roleName,
} from './describe.js';

/**
 * The interaction environment: a set of raft cores with in-memory logs, a queue of messages in
 * flight that the transcript delivers, drops or partitions explicitly, and a toy state machine per
 * node. It plays the driver's part for each core exactly as the `Ready` contract says (persist
 * snapshot, entries, hard state; queue messages; apply; advance), one step at a time, and writes
 * what happens as text. Nothing here is random: each core's Rng is seeded from its node id.
 *
 * The environment is written against the core's contract (`RaftCore`, `MemoryRaftLog`) through
 * {@link InteractionFactory}, so it can drive any implementation of that shape.
 */

/** Limits of the interpreter; each bounds a loop a broken core could otherwise spin forever. */
export const DEFAULT_LIMITS: {
  readonly maxStabilizeRounds: number;
  readonly maxTicksPerCommand: number;
  readonly maxNodes: number;
} = Object.freeze({
  /** Ready/deliver rounds in one `stabilize`; a healthy cluster settles in tens, a livelock never. */
  maxStabilizeRounds: 1000,
  /** Ticks in one `tick` command; more than a few election timeouts is a mistake in the script. */
  maxTicksPerCommand: 10_000,
  /** Nodes in one environment; transcripts are read by people, so a handful is the working range. */
  maxNodes: 64,
});

/** What the environment needs of a core's status (a subset of `RaftStatus`). */
export interface InteractionStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly role: RaftRole;
  readonly confState: ConfState;
  readonly progress?: ReadonlyMap<
    NodeId,
    {
      readonly match: number;
      readonly next: number;
      readonly state: 'probe' | 'replicate' | 'snapshot';
      readonly recentActive?: boolean;
      readonly isLearner: boolean;
    }
  >;
  readonly leadTransferee?: NodeId;
}

/** The core API the environment drives (contract: `RaftCore`). */
export interface InteractionCore {
  tick(): void;
  campaign(): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  applyConfChange(cc: ConfChange): ConfState;
  step(m: Message): void;
  readIndex(requestCtx: Uint8Array): void;
  transferLeader(to: NodeId): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  status(): InteractionStatus;
}

/** The in-memory log API the environment drives (contract: `MemoryRaftLog`). */
export interface InteractionLog extends RaftLogReader {
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  applySnapshot(s: Snapshot): void;
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot;
  compact(index: number): void;
}

/** The configuration the environment passes to a new core (contract: `RaftCoreConfig`). */
export interface InteractionCoreConfig {
  id: NodeId;
  electionTicks: number;
  heartbeatTicks: number;
  rng: Rng;
  log: RaftLogReader;
  applied: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
}

/** How the environment makes cores and logs, and reads conf entries. */
export interface InteractionFactory {
  createLog(): InteractionLog;
  createCore(config: InteractionCoreConfig): InteractionCore;
  decodeConfChange: ConfChangeDecoder;
}

/** Options of `add-nodes`. */
export interface AddNodesOptions {
  voters?: readonly NodeId[];
  learners?: readonly NodeId[];
  /** Index (and term 1) of the bootstrap snapshot; default 1 when a configuration is given. */
  index?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTicks?: number;
  heartbeatTicks?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
}

interface NodeState {
  readonly id: NodeId;
  core: InteractionCore;
  readonly config: InteractionCoreConfig;
  readonly log: InteractionLog;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** The toy state machine: the data of every applied non-empty normal entry, in order. */
  machine: string[];
  machineIndex: number;
  /** Configurations in force from each applied index on, for snapshots taken at older indexes. */
  confHistory: { index: number; confState: ConfState }[];
  /** Data of applied entries by index, to rebuild the machine as of an older index. */
  appliedLog: { index: number; data: string }[];
  last: { role: RaftRole; term: number; lead: NodeId };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Encodes the toy machine for a snapshot: its values as a JSON array. */
function encodeMachine(values: readonly string[]): Uint8Array {
  return textEncoder.encode(JSON.stringify(values));
}

function decodeMachine(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  const parsed: unknown = JSON.parse(textDecoder.decode(data));
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) {
    throw new CommandError('snapshot data is not a machine image');
  }
  return parsed;
}

/**
 * An error as a transcript shows it: its stable code when it has one (the message is for people
 * and may be reworded without breaking transcripts), else its name and message.
 */
function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : `${err.name}: ${err.message}`;
  }
  return String(err);
}

/** See the module comment. One environment runs one transcript. */
export class InteractionEnv {
  private readonly nodes = new Map<NodeId, NodeState>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  private queue: Message[] = [];
  /** Group of each node while a partition is in force; a node not listed is alone. */
  private partition: Map<NodeId, number> | undefined;
  private out: string[] = [];
  /** `log-level none`: commands run but print nothing (for the set-up part of a transcript). */
  quiet = false;
  /** The leader seen for each term (election safety: at most one). */
  private readonly leaders = new Map<number, NodeId>();
  /** The entry each index was applied as, on the first node that applied it (state machine safety). */
  private readonly appliedAt = new Map<number, string>();
  /** Safety violations seen so far; each is also written to the output, whatever the log level. */
  readonly violations: string[] = [];

  constructor(
    private readonly factory: InteractionFactory,
    private readonly limits: typeof DEFAULT_LIMITS = DEFAULT_LIMITS,
  ) {}

  /** Takes the output written since the last call. */
  takeOutput(): string {
    const text = this.out.join('\n');
    this.out = [];
    return text;
  }

  private write(line: string): void {
    if (!this.quiet) this.out.push(line);
  }

  private violation(text: string): void {
    this.violations.push(text);
    this.out.push(`SAFETY VIOLATION: ${text}`);
  }

  /** Indents every output line written from position `from` on (they belong to the line before). */
  private indentSince(from: number): void {
    for (let i = from; i < this.out.length; i++) this.out[i] = indent(this.out[i]!);
  }

  private node(id: NodeId): NodeState {
    const n = this.nodes.get(id);
    if (n === undefined) throw new CommandError(`no node ${id}`);
    return n;
  }

  /** Node ids in ascending order. */
  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /** Node `id`'s log, for tests that inspect what the environment persisted. */
  logOf(id: NodeId): InteractionLog {
    return this.node(id).log;
  }

  /** The index node `id`'s toy machine has applied up to. */
  appliedIndex(id: NodeId): number {
    return this.node(id).machineIndex;
  }

  /** Messages still in flight (a copy). */
  inFlight(): Message[] {
    return [...this.queue];
  }

  private decode: ConfChangeDecoder = (data) => {
    try {
      return this.factory.decodeConfChange(data);
    } catch {
      return undefined;
    }
  };

  /**
   * Adds `count` nodes with the next free ids. With `voters` or `learners` each starts from a
   * bootstrap snapshot at `index` (term 1) holding that configuration; without, it starts empty
   * (a node that will be added by a conf change and caught up by the leader).
   */
  addNodes(count: number, options: AddNodesOptions = {}): void {
    if (this.nodes.size + count > this.limits.maxNodes) {
      throw new CommandError(`at most ${this.limits.maxNodes} nodes (limit maxNodes)`);
    }
    const configured = options.voters !== undefined || options.learners !== undefined;
    const confState: ConfState = {
      voters: [...(options.voters ?? [])].sort((a, b) => a - b),
      learners: [...(options.learners ?? [])].sort((a, b) => a - b),
    };
    const index = options.index ?? (configured ? 1 : 0);
    if (!configured && index !== 0) throw new CommandError('index= needs voters= or learners=');
    const first = (this.ids().at(-1) ?? 0) + 1;
    for (let id = first; id < first + count; id++) {
      const log = this.factory.createLog();
      if (configured) {
        log.applySnapshot({ meta: { index, term: 1, confState }, data: encodeMachine([]) });
        log.setHardState({ term: 1, vote: 0, commit: index });
      }
      const electionTicks = options.electionTicks ?? 10;
      const heartbeatTicks = options.heartbeatTicks ?? 1;
      const config: InteractionCoreConfig = {
        id,
        electionTicks,
        heartbeatTicks,
        rng: Rng.fromSeed(id),
        log,
        applied: index,
        preVote: options.preVote ?? true,
        checkQuorum: options.checkQuorum ?? true,
      };
      if (options.maxSizePerMsg !== undefined) config.maxSizePerMsg = options.maxSizePerMsg;
      if (options.maxInflightMsgs !== undefined) config.maxInflightMsgs = options.maxInflightMsgs;
      const core = this.factory.createCore(config);
      const s = core.status();
      this.nodes.set(id, {
        id,
        core,
        config,
        log,
        electionTicks,
        heartbeatTicks,
        machine: [],
        machineIndex: index,
        confHistory: [{ index, confState: configured ? confState : { voters: [], learners: [] } }],
        appliedLog: [],
        last: { role: s.role, term: s.term, lead: s.lead },
      });
    }
  }

  /**
   * Crashes node `id` and starts it again from what it persisted: a new core over the same log
   * (hard state, entries and snapshot handed over in earlier Readys). Whatever the old core had
   * not yet handed over is lost, as in a crash. The toy machine is volatile too: it restarts from
   * the log's snapshot, and the new core hands the committed entries after it over again
   * (configuration changes included, which are applied again). Messages in flight stay in flight.
   */
  restart(id: NodeId): void {
    const n = this.node(id);
    const snap = n.log.snapshot();
    n.machine = decodeMachine(snap.data);
    n.machineIndex = snap.meta.index;
    n.appliedLog = n.machine.map((data) => ({ index: snap.meta.index, data }));
    n.confHistory = [{ index: snap.meta.index, confState: snap.meta.confState }];
    const config: InteractionCoreConfig = { ...n.config, rng: Rng.fromSeed(id), applied: snap.meta.index };
    try {
      n.core = this.factory.createCore(config);
    } catch (err) {
      this.write(`error: ${errorText(err)}`);
      return;
    }
    this.noteState(id);
  }

  /** Writes a line for each change of role, term or leader since the last note (`~ 1 StateLeader term:2 lead:1`). */
  private noteState(id: NodeId): void {
    const n = this.node(id);
    const s = n.core.status();
    if (s.role === n.last.role && s.term === n.last.term && s.lead === n.last.lead) return;
    n.last = { role: s.role, term: s.term, lead: s.lead };
    this.write(`~ ${id} ${roleName(s.role)} term:${s.term} lead:${s.lead}`);
    if (s.role === 'leader') {
      const other = this.leaders.get(s.term);
      if (other === undefined) this.leaders.set(s.term, id);
      else if (other !== id) this.violation(`two leaders in term ${s.term}: ${other} and ${id}`);
    }
  }

  /** Runs `action` on a core; a thrown error is written as `error: CODE`, not raised. */
  private call(id: NodeId, action: (core: InteractionCore) => void): void {
    const n = this.node(id);
    try {
      action(n.core);
    } catch (err) {
      if (err instanceof CommandError) throw err;
      this.write(`error: ${errorText(err)}`);
    }
    this.noteState(id);
  }

  tick(id: NodeId, count: number): void {
    if (count > this.limits.maxTicksPerCommand) {
      throw new CommandError(`at most ${this.limits.maxTicksPerCommand} ticks (limit maxTicksPerCommand)`);
    }
    for (let i = 0; i < count; i++) this.call(id, (c) => c.tick());
  }

  tickElection(id: NodeId): void {
    this.tick(id, this.node(id).electionTicks);
  }

  tickHeartbeat(id: NodeId): void {
    this.tick(id, this.node(id).heartbeatTicks);
  }

  campaign(id: NodeId): void {
    this.call(id, (c) => c.campaign());
  }

  propose(id: NodeId, data: string): void {
    this.call(id, (c) => c.propose(textEncoder.encode(data)));
  }

  proposeConfChange(id: NodeId, cc: ConfChange): void {
    this.call(id, (c) => c.proposeConfChange(cc));
  }

  readIndex(id: NodeId, ctx: string): void {
    this.call(id, (c) => c.readIndex(textEncoder.encode(ctx)));
  }

  transferLeader(from: NodeId, to: NodeId): void {
    this.call(from, (c) => c.transferLeader(to));
  }

  reportUnreachable(id: NodeId, peer: NodeId): void {
    this.call(id, (c) => c.reportUnreachable(peer));
  }

  reportSnapshot(id: NodeId, peer: NodeId, ok: boolean): void {
    this.call(id, (c) => c.reportSnapshot(peer, ok));
  }

  /**
   * Handles one Ready of node `id`, if it has one, as the driver contract orders it: persist the
   * snapshot, entries and hard state; queue the messages; restore the snapshot and apply the
   * committed entries (conf entries through `applyConfChange`); advance. Returns whether there was
   * a Ready.
   */
  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.core.hasReady()) return false;
    const rd = n.core.ready();
    this.write(`> ${id} handling Ready`);
    const before = this.out.length;
    this.write(describeReady(rd, this.decode));
    if (rd.snapshot !== undefined) n.log.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) n.log.append(rd.entries);
    if (rd.hardState !== undefined) n.log.setHardState(rd.hardState);
    this.queue.push(...rd.messages);
    if (rd.snapshot !== undefined) this.restoreMachine(n, rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    n.core.advance(rd);
    this.noteState(id);
    this.indentSince(before);
    return true;
  }

  private restoreMachine(n: NodeState, s: Snapshot): void {
    n.machine = decodeMachine(s.data);
    n.machineIndex = s.meta.index;
    n.appliedLog = n.machine.map((data) => ({ index: s.meta.index, data }));
    n.confHistory = [{ index: s.meta.index, confState: s.meta.confState }];
    this.write(`~ ${n.id} restored snapshot ${describeSnapshot(s)}`);
  }

  private applyEntry(n: NodeState, e: Entry): void {
    if (e.index !== n.machineIndex + 1) {
      this.write(`~ ${n.id} error: applied ${e.index} after ${n.machineIndex} (a gap or a repeat)`);
    }
    n.machineIndex = e.index;
    const what = describeEntry(e, this.decode);
    const first = this.appliedAt.get(e.index);
    if (first === undefined) this.appliedAt.set(e.index, what);
    else if (first !== what) this.violation(`node ${n.id} applied ${what} where another applied ${first}`);
    if (e.type === 'normal') {
      if (e.data.length > 0) {
        const data = textDecoder.decode(e.data);
        n.machine.push(data);
        n.appliedLog.push({ index: e.index, data });
      }
      return;
    }
    const cc = this.decode(e.data);
    if (cc === undefined) {
      this.write(`~ ${n.id} error: conf entry ${describeEntry(e, this.decode)} does not decode`);
      return;
    }
    try {
      const cs = n.core.applyConfChange(cc);
      n.confHistory.push({ index: e.index, confState: cs });
      this.write(`~ ${n.id} applied ${describeConfChange(cc)}: ${describeConfState(cs)}`);
    } catch (err) {
      this.write(`~ ${n.id} error: applying ${describeConfChange(cc)}: ${errorText(err)}`);
    }
  }

  private blockedBy(m: Message): string | undefined {
    if (this.partition === undefined) return undefined;
    const a = this.partition.get(m.from);
    const b = this.partition.get(m.to);
    return a === undefined || b === undefined || a !== b ? 'partitioned' : undefined;
  }

  /**
   * Delivers every queued message addressed to `id`, in send order, unless a partition separates
   * sender and receiver (then it is dropped and written with `DROPPED`). Returns how many were taken.
   */
  deliver(id: NodeId): number {
    const mine = this.queue.filter((m) => m.to === id);
    if (mine.length === 0) return 0;
    this.queue = this.queue.filter((m) => m.to !== id);
    const n = this.nodes.get(id);
    for (const m of mine) {
      const blocked = n === undefined ? 'no such node' : this.blockedBy(m);
      if (blocked !== undefined) {
        this.write(`${describeMessage(m, this.decode)} DROPPED (${blocked})`);
        continue;
      }
      this.write(describeMessage(m, this.decode));
      const before = this.out.length;
      this.call(id, (c) => c.step(m));
      // What stepping the message caused goes under the message.
      this.indentSince(before);
    }
    return mine.length;
  }

  /** Removes queued messages addressed to `id` (and from `from`, when given) and writes them. */
  drop(to: NodeId | undefined, from: NodeId | undefined): number {
    const match = (m: Message): boolean =>
      (to === undefined || m.to === to) && (from === undefined || m.from === from);
    const dropped = this.queue.filter(match);
    this.queue = this.queue.filter((m) => !match(m));
    for (const m of dropped) this.write(`dropped: ${describeMessage(m, this.decode)}`);
    return dropped.length;
  }

  /**
   * Processes Readys and delivers messages among `ids` (all nodes when empty) until none has a
   * Ready and no message is queued for any of them. Messages to other nodes stay queued.
   */
  stabilize(ids: readonly NodeId[]): void {
    const targets = ids.length > 0 ? [...ids] : this.ids();
    for (const id of targets) this.node(id);
    for (let round = 0; round < this.limits.maxStabilizeRounds; round++) {
      let done = true;
      for (const id of targets) {
        if (this.processReady(id)) done = false;
      }
      for (const id of targets) {
        if (!this.queue.some((m) => m.to === id)) continue;
        done = false;
        this.write(`> ${id} receiving messages`);
        const before = this.out.length;
        this.deliver(id);
        this.indentSince(before);
      }
      if (done) return;
    }
    throw new CommandError(
      `not stable after ${this.limits.maxStabilizeRounds} rounds (limit maxStabilizeRounds)`,
    );
  }

  /** Splits the nodes into groups that cannot talk to each other; a node not listed is alone. */
  setPartition(groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((g, k) => {
      for (const id of g) {
        this.node(id);
        if (map.has(id)) throw new CommandError(`node ${id} is in two groups`);
        map.set(id, k);
      }
    });
    let next = groups.length;
    for (const id of this.ids()) if (!map.has(id)) map.set(id, next++);
    this.partition = map;
  }

  heal(): void {
    this.partition = undefined;
  }

  /**
   * Takes a snapshot of node `id`'s machine as of `index` (which it must have applied) and
   * compacts its log up to there, as a driver does after `snapshotEntries`.
   */
  compact(id: NodeId, index: number): void {
    const n = this.node(id);
    if (index > n.machineIndex) throw new CommandError(`node ${id} has applied ${n.machineIndex} < ${index}`);
    const values = n.appliedLog.filter((a) => a.index <= index).map((a) => a.data);
    let confState: ConfState = { voters: [], learners: [] };
    for (const c of n.confHistory) if (c.index <= index) confState = c.confState;
    try {
      n.log.createSnapshot(index, confState, encodeMachine(values));
      n.log.compact(index);
    } catch (err) {
      this.write(`error: ${errorText(err)}`);
    }
  }

  /** Writes node `id`'s log: `term/index EntryNormal "x"` per entry. */
  raftLog(id: NodeId): void {
    const { log } = this.node(id);
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (last < first) {
      this.write(`log is empty: first index=${first}, last index=${last}`);
      return;
    }
    for (const e of log.entries(first, last + 1, Number.MAX_SAFE_INTEGER))
      this.write(describeEntry(e, this.decode));
  }

  /** Writes the toy machine of node `id`: its applied index and values. */
  applied(id: NodeId): void {
    const n = this.node(id);
    this.write(
      `applied:${n.machineIndex} [${n.machine.map((v) => describeBytes(textEncoder.encode(v))).join(' ')}]`,
    );
  }

  /** Writes one line per node: role, membership, term and leader. */
  raftState(): void {
    for (const id of this.ids()) {
      const s = this.node(id).core.status();
      const kind = s.confState.voters.includes(id)
        ? 'Voter'
        : s.confState.learners.includes(id)
          ? 'Learner'
          : 'Non-Voter';
      this.write(`${id}: ${roleName(s.role)} (${kind}) Term:${s.term} Lead:${s.lead}`);
    }
  }

  /** Writes node `id`'s status, with the leader's view of each peer's progress. */
  status(id: NodeId): void {
    const s = this.node(id).core.status();
    const transferee =
      s.leadTransferee !== undefined && s.leadTransferee !== 0 ? ` transferee:${s.leadTransferee}` : '';
    this.write(
      `${id}: ${roleName(s.role)} term:${s.term} vote:${s.vote} commit:${s.commit} applied:${s.applied} lead:${s.lead}${transferee}`,
    );
    this.write(describeConfState(s.confState));
    if (s.progress === undefined || s.progress.size === 0) return;
    const states = { probe: 'StateProbe', replicate: 'StateReplicate', snapshot: 'StateSnapshot' } as const;
    for (const peer of [...s.progress.keys()].sort((a, b) => a - b)) {
      const p = s.progress.get(peer)!;
      const learner = p.isLearner ? ' learner' : '';
      this.write(`${peer}: ${states[p.state]} match=${p.match} next=${p.next}${learner}`);
    }
  }
}
