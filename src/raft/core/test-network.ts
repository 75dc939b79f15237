import { bytesEqual } from '../../core/bytes.js';
import { decode, encode } from '../../core/codec.js';
import { Rng } from '../../core/rng.js';
import { v } from '../../core/validate.js';
import { MemoryRaftLog } from '../memory-log.js';
import type { ConfState, Entry, Message, NodeId, ReadState, Ready } from '../types.js';
import { bootstrapState, decodeConfChange } from './conf-change.js';
import type { RaftCoreConfig } from './config.js';
import { RaftCore } from './raft-core.js';

/**
 * An in-memory network of {@link RaftCore}s for tests, and the base of the interaction
 * transcripts: N cores, each with a {@link MemoryRaftLog} as its "disk" and a list of applied
 * entries as its state machine; messages wait in {@link TestNetwork.inFlight} until delivered.
 *
 * Every Ready is carried out as a driver would (persist, queue messages, apply, advance), and two
 * safety checks run on every one: at most one leader per term (election safety), and every node
 * applies the same entry at each index (state machine safety). A violation throws
 * {@link SafetyViolation}.
 *
 * @example
 * ```ts
 * const net = TestNetwork.create([1, 2, 3]);
 * net.campaign(1);
 * net.stabilize();
 * net.propose(1, utf8('x'));
 * net.stabilize();
 * assert.equal(net.node(3).applied.at(-1)?.data.length, 1);
 * ```
 */

/** Thrown when a Raft safety property is violated. */
export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

/** One node of the network. */
export interface NetworkNode {
  readonly id: NodeId;
  core: RaftCore;
  /** Its stable storage; survives {@link TestNetwork.restart}. */
  readonly log: MemoryRaftLog;
  /** Applied entries (normal and conf), in order: the state machine. */
  applied: Entry[];
  /** The configuration after the last applied entry. */
  confState: ConfState;
  /** Read states received, in order. */
  readonly readStates: ReadState[];
  /** Every Ready handled, most recent last (trimmed to the last 64). */
  readonly readies: Ready[];
}

/** Options of {@link TestNetwork.create}. */
export interface TestNetworkOptions {
  /** Seed of every node's Rng (each node gets a child stream). Default 1. */
  seed?: number | string;
  /** Learners of the initial configuration. */
  learners?: readonly NodeId[];
  /** Overrides of each core's config (electionTicks 10, heartbeatTicks 1 by default). */
  config?: Partial<Omit<RaftCoreConfig, 'id' | 'log' | 'rng' | 'applied'>>;
}

const SNAPSHOT_DATA = v.array(v.tuple(v.uint(), v.uint(), v.oneOf(['normal', 'conf'] as const), v.bytes()), {
  maxLength: 1_000_000,
});

const MAX_STABILIZE_ROUNDS = 100_000;

export class TestNetwork {
  readonly nodes = new Map<NodeId, NetworkNode>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  inFlight: Message[] = [];
  /** Messages dropped by the network, in order (for tests that inspect them). */
  readonly droppedMessages: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private dropFilter: ((m: Message) => boolean) | undefined;
  private readonly rng: Rng;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly committed = new Map<number, Entry>();
  private starts = 0;

  private constructor(private readonly options: TestNetworkOptions) {
    this.rng = Rng.fromSeed(options.seed ?? 1);
  }

  /** A network of bootstrapped members `ids` (voters) plus `options.learners`. */
  static create(ids: readonly NodeId[], options: TestNetworkOptions = {}): TestNetwork {
    const net = new TestNetwork(options);
    const cs: ConfState = { voters: [...ids], learners: [...(options.learners ?? [])] };
    for (const id of [...cs.voters, ...cs.learners]) {
      const log = new MemoryRaftLog();
      const boot = bootstrapState(cs);
      log.append(boot.entries);
      log.setHardState(boot.hardState);
      log.setConfState(boot.confState);
      net.addNode(id, log, 0, boot.confState);
    }
    // Apply the bootstrap entries, as a driver's first Ready would: until they are applied, a
    // node does not campaign (it has unapplied conf changes).
    net.stabilize();
    return net;
  }

  /** Adds a fresh node with an empty log (to join through a conf change). */
  addEmpty(id: NodeId): NetworkNode {
    return this.addNode(id, new MemoryRaftLog(), 0, { voters: [], learners: [] });
  }

  private addNode(id: NodeId, log: MemoryRaftLog, applied: number, confState: ConfState): NetworkNode {
    const core = this.makeCore(id, log, applied);
    const node: NetworkNode = { id, core, log, applied: [], confState, readStates: [], readies: [] };
    this.nodes.set(id, node);
    return node;
  }

  private makeCore(id: NodeId, log: MemoryRaftLog, applied: number): RaftCore {
    return new RaftCore({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.options.config,
      id,
      log,
      applied,
      rng: this.rng.child(`node-${id}-${this.starts++}`),
    });
  }

  node(id: NodeId): NetworkNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id} in the test network`);
    return n;
  }

  /** Restarts `id` from its stable storage: volatile state and unsent messages are lost. */
  restart(id: NodeId): void {
    const n = this.node(id);
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const m = this.inFlight[i]!;
      if (m.from === id || m.to === id) this.dropAt(i);
    }
    const last = n.applied[n.applied.length - 1];
    n.log.setConfState(n.confState);
    n.core = this.makeCore(id, n.log, last?.index ?? n.log.snapshot().meta.index);
  }

  // ---- faults ----

  /** Drops every message to or from `id` until {@link heal}. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Drops messages between `a` and `b` (both directions) until {@link heal}. */
  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }

  /** Drops messages for which `filter` returns true, until {@link heal}. */
  dropIf(filter: (m: Message) => boolean): void {
    this.dropFilter = filter;
  }

  /** Removes every isolation, cut and drop filter. */
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
    this.dropFilter = undefined;
  }

  /** True when the network would drop `m`. */
  blocks(m: Message): boolean {
    return (
      this.isolated.has(m.from) ||
      this.isolated.has(m.to) ||
      this.cuts.has(`${m.from}-${m.to}`) ||
      this.dropFilter?.(m) === true ||
      !this.nodes.has(m.to)
    );
  }

  // ---- driving ----

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).core.tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const n of this.nodes.values()) n.core.tick();
  }

  campaign(id: NodeId): void {
    this.node(id).core.campaign();
  }

  propose(id: NodeId, data: Uint8Array): void {
    this.node(id).core.propose(data);
  }

  /**
   * Handles one Ready of `id` as a driver would: persist, queue messages, apply, advance.
   * Returns the Ready, or undefined when there was none.
   */
  processReady(id: NodeId): Ready | undefined {
    const n = this.node(id);
    if (!n.core.hasReady()) return undefined;
    const rd = n.core.ready();
    if (rd.snapshot !== undefined) {
      n.log.applySnapshot(rd.snapshot);
      n.applied = decode(rd.snapshot.data, SNAPSHOT_DATA).map(([index, term, type, data]) => ({
        index,
        term,
        type,
        data,
      }));
      n.confState = rd.snapshot.meta.confState;
    }
    n.log.append(rd.entries);
    if (rd.hardState !== undefined) n.log.setHardState(rd.hardState);
    if (rd.softState?.role === 'leader') this.recordLeader(id, n.core.status().term);
    for (const m of rd.messages) this.inFlight.push(m);
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) n.readStates.push(rs);
    n.readies.push(rd);
    if (n.readies.length > 64) n.readies.shift();
    n.core.advance(rd);
    return rd;
  }

  private apply(n: NetworkNode, e: Entry): void {
    const seen = this.committed.get(e.index);
    if (seen === undefined) this.committed.set(e.index, e);
    else if (seen.term !== e.term || !bytesEqual(seen.data, e.data)) {
      throw new SafetyViolation(
        `node ${n.id} applied entry ${e.index} of term ${e.term}, but term ${seen.term} was applied there before`,
      );
    }
    const prev = n.applied[n.applied.length - 1];
    if (prev !== undefined && e.index !== prev.index + 1) {
      throw new SafetyViolation(`node ${n.id} applied ${e.index} after ${prev.index}`);
    }
    n.applied.push(e);
    if (e.type === 'conf') n.confState = n.core.applyConfChange(decodeConfChange(e.data));
  }

  private recordLeader(id: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== id) {
      throw new SafetyViolation(`two leaders in term ${term}: ${other} and ${id}`);
    }
    this.leaderOfTerm.set(term, id);
  }

  /** Delivers (or drops) one in-flight message by position; returns it. */
  deliverAt(index: number): Message | undefined {
    const [m] = this.inFlight.splice(index, 1);
    if (m === undefined) return undefined;
    this.deliverMessage(m);
    return m;
  }

  /** Drops one in-flight message by position, reporting a dropped snapshot to its sender. */
  dropAt(index: number): Message | undefined {
    const [m] = this.inFlight.splice(index, 1);
    if (m === undefined) return undefined;
    this.droppedMessages.push(m);
    if (m.type === 'snap') this.nodes.get(m.from)?.core.reportSnapshot(m.to, false);
    return m;
  }

  /** Delivers `m` now (unless the network blocks it). Does not remove it from `inFlight`. */
  deliverMessage(m: Message): void {
    const blocked = this.blocks(m);
    if (blocked) this.droppedMessages.push(m);
    else this.node(m.to).core.step(m);
    if (m.type === 'snap') this.nodes.get(m.from)?.core.reportSnapshot(m.to, !blocked);
  }

  /** Delivers every in-flight message matching `filter` (all by default), in order; returns how many. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const now = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((m) => !filter(m));
    for (const m of now) this.deliverMessage(m);
    return now.length;
  }

  /** Handles Readies and delivers messages until nothing is left to do. */
  stabilize(): void {
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      let busy = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        while (this.processReady(id) !== undefined) busy = true;
      }
      if (this.deliver() > 0) busy = true;
      if (!busy) return;
    }
    throw new Error(`test network did not stabilize in ${MAX_STABILIZE_ROUNDS} rounds`);
  }

  /** Every entry applied anywhere so far, by index: what the cluster committed. */
  committedEntries(): ReadonlyMap<number, Entry> {
    return this.committed;
  }

  /** The leader of the highest term among live nodes, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const n of this.nodes.values()) {
      const s = n.core.status();
      if (s.role === 'leader' && (best === undefined || s.term > best.term))
        best = { id: n.id, term: s.term };
    }
    return best?.id;
  }

  /** Creates a snapshot of `id`'s state machine at its applied index and compacts its log there. */
  compact(id: NodeId): void {
    const n = this.node(id);
    const last = n.applied[n.applied.length - 1];
    if (last === undefined || last.index <= n.log.snapshot().meta.index) return;
    const data = encode(n.applied.map((e) => [e.index, e.term, e.type, e.data]));
    n.log.createSnapshot(last.index, n.confState, data);
    n.log.compact(last.index);
  }

  /** Data of the applied normal entries with data (no-ops skipped) on `id`, as UTF-8 strings. */
  appliedText(id: NodeId): string[] {
    const dec = new TextDecoder();
    return this.node(id)
      .applied.filter((e) => e.type === 'normal' && e.data.length > 0)
      .map((e) => dec.decode(e.data));
  }
}

/** A standalone core over a fresh {@link MemoryRaftLog}, for tests that step messages by hand. */
export function makeTestCore(
  id: NodeId,
  confState: ConfState,
  opts: {
    entries?: readonly Entry[];
    term?: number;
    vote?: NodeId;
    commit?: number;
    seed?: number | string;
    config?: TestNetworkOptions['config'];
  } = {},
): { core: RaftCore; log: MemoryRaftLog } {
  const log = new MemoryRaftLog();
  log.setConfState(confState);
  if (opts.entries !== undefined) log.append(opts.entries);
  log.setHardState({ term: opts.term ?? 0, vote: opts.vote ?? 0, commit: opts.commit ?? 0 });
  const core = new RaftCore({
    electionTicks: 10,
    heartbeatTicks: 1,
    ...opts.config,
    id,
    log,
    rng: Rng.fromSeed(opts.seed ?? id),
  });
  return { core, log };
}

/**
 * Carries out every Ready of a standalone core (persisting into `log`, applying conf entries) and
 * returns the messages it sent and the entries it committed.
 */
export function drainReady(core: RaftCore, log: MemoryRaftLog): { messages: Message[]; committed: Entry[] } {
  const messages: Message[] = [];
  const committed: Entry[] = [];
  for (let i = 0; i < 1000 && core.hasReady(); i++) {
    const rd = core.ready();
    if (rd.snapshot !== undefined) log.applySnapshot(rd.snapshot);
    log.append(rd.entries);
    if (rd.hardState !== undefined) log.setHardState(rd.hardState);
    messages.push(...rd.messages);
    for (const e of rd.committedEntries) {
      committed.push(e);
      if (e.type === 'conf') core.applyConfChange(decodeConfChange(e.data));
    }
    core.advance(rd);
  }
  return { messages, committed };
}
