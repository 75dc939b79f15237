import { fromUtf8, type Rng, utf8 } from '../../src/core/index.js';
import {
  checkHistory,
  HistoryRecorder,
  type KvCompare,
  type KvInput,
  type KvOutput,
  kvModel,
} from '../../src/lab/lincheck/index.js';
import type { Simulator } from '../../src/sim/index.js';
import { isStoreError } from '../../src/store/errors.js';
import type { StoreServer } from '../../src/store/server/store-server.js';
import { type MemberSlot, peerUrl, type StoreCluster } from './store-harness.js';
import { stateHash } from './store-safety.js';

/**
 * The swarm's clients and operator: simulated clients issuing random puts, linearizable gets,
 * deletes and compare-and-set txns on a small key set against random members, each with a
 * deadline, recorded with the linearizability checker's recorder; and an operator changing the
 * membership during the faults (add a learner, promote it, remove a voter, add again) through
 * the store's member API. After heal, {@link Workload.finish} reconciles the membership, checks
 * that every member converged, runs a final put and linearizable gets on every member, and checks
 * the whole history.
 */

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** A call not answered by then is recorded as unknown (`info`). */
  readonly deadlineMs: number;
  /** Mean pause between one client's operations. */
  readonly thinkMs: number;
  /** Mean pause between membership changes; 0 disables them. */
  readonly membershipIntervalMs: number;
  /** Most members (voters and learners) at once. */
  readonly maxMembers: number;
  /** Most members added over a run. */
  readonly maxAdded: number;
  /**
   * Run a client of leases (grant, attach a key, keep-alive, revoke) and compactions besides the
   * checked ones: its keys are outside the checked key set, so it is checked by the members'
   * state hashes and, after heal, by every lease expiring with its keys.
   */
  readonly leases: boolean;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  clients: 4,
  keys: ['a', 'b', 'c'],
  deadlineMs: 3_000,
  thinkMs: 60,
  membershipIntervalMs: 1_500,
  maxMembers: 5,
  maxAdded: 3,
  leases: true,
};

type Outcome<T> = { kind: 'ok'; value: T } | { kind: 'error'; err: unknown } | { kind: 'timeout' };

/** Errors that prove a write was refused before it was proposed. */
const REFUSED = new Set(['notSupportedForLearner', 'emptyKey', 'requestTooLarge', 'tooManyRequests']);

export class Workload {
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly counts = {
    ok: 0,
    fail: 0,
    info: 0,
    memberChanges: 0,
    memberFailures: 0,
    leases: 0,
    compactions: 0,
  };
  private stopped = false;
  private running = 0;
  /** What each client last saw of each key, for its compare-and-set guards. */
  private readonly seen = new Map<string, { value: string | null; modRevision: number }>();
  private added = 0;
  /** Membership actions and their outcomes, printed with a liveness failure. */
  readonly notes: string[] = [];

  constructor(
    private readonly cluster: StoreCluster,
    private readonly rng: Rng,
    private readonly options: WorkloadOptions = DEFAULT_WORKLOAD,
  ) {
    const sim = cluster.sim;
    this.history = new HistoryRecorder({ now: () => sim.now });
  }

  private get sim(): Simulator {
    return this.cluster.sim;
  }

  /** Starts the clients and the operator. */
  start(): void {
    for (let c = 1; c <= this.options.clients; c++) this.spawn(this.client(c, this.rng.child(`client${c}`)));
    if (this.options.membershipIntervalMs > 0) this.spawn(this.operator(this.rng.child('operator')));
    if (this.options.leases) this.spawn(this.leaseClient(this.rng.child('leases')));
  }

  /** Stops issuing operations; calls in flight still complete or time out. */
  stop(): void {
    this.stopped = true;
  }

  /** Whether every client and the operator finished. */
  get idle(): boolean {
    return this.running === 0;
  }

  private spawn(task: Promise<void>): void {
    this.running++;
    task.then(
      () => this.running--,
      (err: unknown) => {
        this.running--;
        this.cluster.safety.violation(`workload task failed: ${String(err)}`);
      },
    );
  }

  delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.sim.schedule(ms, resolve));
  }

  /** Runs `run` with a deadline on the simulator's clock (a crashed member never answers). */
  call<T>(
    run: (signal: AbortSignal) => Promise<T>,
    deadlineMs = this.options.deadlineMs,
  ): Promise<Outcome<T>> {
    return new Promise((resolve) => {
      const abort = new AbortController();
      let done = false;
      const timer = this.sim.schedule(deadlineMs, () => {
        if (done) return;
        done = true;
        abort.abort();
        resolve({ kind: 'timeout' });
      });
      run(abort.signal).then(
        (value) => {
          if (done) return;
          done = true;
          this.sim.cancelEvent(timer);
          resolve({ kind: 'ok', value });
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          this.sim.cancelEvent(timer);
          resolve({ kind: 'error', err });
        },
      );
    });
  }

  /** Members a client may call: not removed, running. */
  private reachable(): Array<{ slot: MemberSlot; server: StoreServer }> {
    const out: Array<{ slot: MemberSlot; server: StoreServer }> = [];
    for (const slot of this.cluster.members()) {
      const server = this.cluster.serverOf(slot);
      if (server !== undefined) out.push({ slot, server });
    }
    return out;
  }

  private async client(clientId: number, rng: Rng): Promise<void> {
    let seq = 0;
    while (!this.stopped) {
      await this.delay(rng.exponential(this.options.thinkMs));
      if (this.stopped) break;
      const targets = this.reachable();
      if (targets.length === 0) continue;
      const { server } = rng.pick(targets);
      const key = rng.pick(this.options.keys);
      const roll = rng.float();
      const value = `c${clientId}.${++seq}`;
      let input: KvInput;
      if (roll < 0.3) input = { type: 'put', key, value };
      else if (roll < 0.6) input = { type: 'get', key };
      else if (roll < 0.7) input = { type: 'delete', key };
      else input = { type: 'cas', key, compare: this.guard(key, rng), value };
      await this.operation(clientId, server, input);
    }
  }

  private guard(key: string, rng: Rng): KvCompare {
    const seen = this.seen.get(key);
    if (rng.chance(0.5)) return { modRevision: seen?.modRevision ?? 0 };
    return { value: seen?.value ?? 'none' };
  }

  /** Issues one recorded operation against `server`. */
  async operation(clientId: number, server: StoreServer, input: KvInput): Promise<Outcome<KvOutput>> {
    const id = this.history.invoke(clientId, input);
    const out = await this.call((signal) => execute(server, input, signal));
    if (out.kind === 'ok') {
      this.history.ok(id, out.value);
      this.counts.ok++;
      if (out.value.type === 'get') {
        this.seen.set(input.key, { value: out.value.value, modRevision: out.value.modRevision ?? 0 });
      }
    } else if (out.kind === 'error' && (input.type === 'get' || refused(out.err))) {
      this.history.fail(id);
      this.counts.fail++;
    } else {
      this.history.info(id);
      this.counts.info++;
    }
    return out;
  }

  // ---------------------------------------------------------------- leases and compaction

  private async leaseClient(rng: Rng): Promise<void> {
    const granted: number[] = [];
    let n = 0;
    while (!this.stopped) {
      await this.delay(rng.exponential(this.options.thinkMs * 4));
      if (this.stopped) break;
      const targets = this.reachable();
      if (targets.length === 0) continue;
      const { server } = rng.pick(targets);
      const roll = rng.float();
      const lease = granted.length === 0 ? undefined : rng.pick(granted);
      if (roll < 0.4 || lease === undefined) {
        const ttl = 1 + rng.int(3);
        const grant = await this.call((signal) => server.leaseGrant(ttl, 0, { signal }));
        if (grant.kind !== 'ok') continue;
        this.counts.leases++;
        granted.push(grant.value.id);
        const key = utf8(`lease/${++n}`);
        await this.call((signal) => server.put({ key, value: utf8('v'), lease: grant.value.id }, { signal }));
      } else if (roll < 0.6) {
        await this.call((signal) => server.leaseKeepAlive(lease, { signal }));
      } else if (roll < 0.8) {
        await this.call((signal) => server.leaseRevoke(lease, { signal }));
      } else {
        const { revision, compactRevision } = server.localStatus();
        if (revision - 5 > compactRevision) {
          const target = compactRevision + 1 + rng.int(revision - 5 - compactRevision);
          const out = await this.call((signal) => server.compact({ revision: target }, { signal }));
          if (out.kind === 'ok') this.counts.compactions++;
        }
      }
    }
  }

  /** After heal: every lease expires (the leader revokes it) and its keys go with it. */
  private async leasesExpired(deadline: number): Promise<void> {
    let why = '';
    while (this.sim.now <= deadline) {
      why = '';
      for (const slot of this.cluster.members()) {
        const mvcc = slot.mvcc;
        if (mvcc === undefined) continue;
        const keys = await mvcc.range({ key: utf8('lease/'), rangeEnd: utf8('lease0'), countOnly: true });
        if (mvcc.leases().length > 0 || keys.count > 0)
          why = `${slot.name} holds ${mvcc.leases().length} leases and ${keys.count} lease keys`;
      }
      if (why === '') return;
      await this.delay(250);
    }
    throw new Error(`leases did not expire after heal: ${why}`);
  }

  // ---------------------------------------------------------------- membership

  private async operator(rng: Rng): Promise<void> {
    while (!this.stopped) {
      await this.delay(rng.exponential(this.options.membershipIntervalMs));
      if (this.stopped) break;
      const voters = this.reachable().filter(({ slot }) => !isLearner(slot));
      if (voters.length === 0) continue;
      const { slot: via, server } = rng.pick(voters);
      const conf = via.raft?.status().confState;
      if (conf === undefined) continue;
      const members = conf.voters.length + conf.learners.length;
      const learner = conf.learners[0];
      if (learner !== undefined) {
        if (this.slotOf(learner) !== undefined)
          await this.memberChange(`promote ${learner} via ${via.name}`, () => server.memberPromote(learner));
      } else if (conf.voters.length > 3 && rng.chance(0.5)) {
        const id = rng.pick(conf.voters);
        const ok = await this.memberChange(`remove ${id} via ${via.name}`, (signal) =>
          server.memberRemove(id, { signal }),
        );
        if (ok) this.retire(id);
      } else if (members < this.options.maxMembers && this.added < this.options.maxAdded) {
        await this.addLearner(server);
      }
    }
  }

  private async addLearner(server: StoreServer): Promise<void> {
    const name = this.cluster.nextName();
    this.added++;
    const out = await this.call((signal) => server.memberAdd([peerUrl(name)], true, { signal }));
    this.note(`add learner ${name}: ${out.kind === 'ok' ? `id ${out.value.member.id}` : describe(out)}`);
    if (out.kind !== 'ok') {
      this.counts.memberFailures++;
      return;
    }
    this.counts.memberChanges++;
    this.cluster.addMember(name, out.value.member.id, false);
  }

  private async memberChange(what: string, run: (signal: AbortSignal) => Promise<unknown>): Promise<boolean> {
    const out = await this.call(run);
    if (out.kind === 'ok') this.counts.memberChanges++;
    else this.counts.memberFailures++;
    this.note(`${what}: ${out.kind === 'ok' ? 'ok' : describe(out)}`);
    return out.kind === 'ok';
  }

  private note(line: string): void {
    if (this.notes.length < 200) this.notes.push(`  t=${this.sim.elapsedMs.toFixed(0)} ${line}`);
  }

  private slotOf(id: number): MemberSlot | undefined {
    return [...this.cluster.slots.values()].find((s) => s.id === id);
  }

  /** Marks member `id` removed and stops its node for good. */
  private retire(id: number): void {
    const slot = this.slotOf(id);
    if (slot === undefined || slot.removed) return;
    slot.removed = true;
    this.note(`stop removed ${slot.name}`);
    void this.sim.stopNode(slot.name).catch(() => undefined);
  }

  // ---------------------------------------------------------------- liveness

  /**
   * After heal: waits for the clients to finish, reconciles the membership with the leader's
   * configuration (removes members nobody runs, promotes learners, stops removed nodes), waits
   * for every member to apply the leader's commit, then runs a final put and linearizable gets
   * of every key on every member, checks that every member holds the same state, and checks the
   * whole history. Throws what failed.
   */
  async finish(deadline: number): Promise<void> {
    const sim = this.sim;
    while (!this.idle) {
      if (sim.now > deadline) throw new Error('clients did not finish');
      await this.delay(100);
    }
    await this.settle(deadline);
    if (this.options.leases) {
      await this.leasesExpired(deadline);
      await this.settle(deadline);
    }
    for (const slot of this.cluster.members()) {
      const server = this.cluster.serverOf(slot);
      if (server === undefined) throw new Error(`${slot.name} is not running`);
      const put = await this.operation(1000 + slot.id, server, {
        type: 'put',
        key: `final-${slot.name}`,
        value: 'done',
      });
      if (put.kind !== 'ok') throw new Error(`final put on ${slot.name} failed: ${describe(put)}`);
      for (const key of this.options.keys) {
        const got = await this.operation(1000 + slot.id, server, { type: 'get', key });
        if (got.kind !== 'ok')
          throw new Error(`final get of ${key} on ${slot.name} failed: ${describe(got)}`);
      }
    }
    await this.settle(deadline);
    const hashes = new Map<string, string>();
    for (const slot of this.cluster.members()) {
      if (slot.mvcc === undefined) throw new Error(`${slot.name} has no MVCC store`);
      const { revision, hash } = await stateHash(slot.mvcc);
      hashes.set(`${slot.mvcc.appliedIndex}/${revision}/${hash.slice(0, 12)}`, slot.name);
    }
    if (hashes.size !== 1) throw new Error(`members differ after heal: ${[...hashes.entries()].join(', ')}`);
    const lost = this.cluster.watches.checkNoLoss();
    if (lost !== undefined) throw new Error(lost);
    const result = checkHistory(kvModel, this.history.operations());
    if (result.kind === 'illegal') throw new Error(`history not linearizable:\n${result.report}`);
    if (result.kind === 'unknown') throw new Error(`history check inconclusive: ${result.reason}`);
  }

  /** Reconciles the membership and waits until every member applied the leader's commit. */
  private async settle(deadline: number): Promise<void> {
    const sim = this.sim;
    let why = 'no leader';
    while (sim.now <= deadline) {
      await this.delay(100);
      const leaders = this.reachable().filter(({ slot }) => slot.raft?.status().role === 'leader');
      const leader = leaders[0];
      if (leader === undefined || leaders.length > 1) {
        why = leaders.length > 1 ? `${leaders.length} leaders` : 'no leader';
        continue;
      }
      const status = leader.slot.raft!.status();
      const conf = [...status.confState.voters, ...status.confState.learners];
      // Nodes the configuration no longer holds were removed (perhaps by a change whose call
      // timed out): they get no more entries, so they are stopped. The leader's configuration is
      // complete once it applied everything committed (no member is added meanwhile).
      if (status.appliedIndex < status.commit) {
        why = `leader ${leader.slot.name} applied ${status.appliedIndex} of ${status.commit}`;
        continue;
      }
      for (const slot of this.cluster.members()) if (!conf.includes(slot.id)) this.retire(slot.id);
      const unknown = conf.find((id) => this.slotOf(id) === undefined || this.slotOf(id)?.removed);
      if (unknown !== undefined) {
        why = `member ${unknown} has no node`;
        await this.memberChange(`remove unknown ${unknown}`, (signal) =>
          leader.server.memberRemove(unknown, { signal }),
        );
        continue;
      }
      const learner = status.confState.learners[0];
      if (learner !== undefined) {
        const p = status.progress?.get(learner) as { match: number; next: number; state: string } | undefined;
        const ls = this.slotOf(learner);
        why = `learner ${learner} (${ls?.name}) not promoted: leader ${leader.slot.name} last=${status.lastIndex} commit=${status.commit} sees match=${p?.match} next=${p?.next} state=${p?.state}; learner up=${ls === undefined ? '?' : this.cluster.sim.nodeState(ls.name)} ${JSON.stringify(ls?.raft?.status(), (_k, v) => (v instanceof Map ? undefined : v))}`;
        await this.memberChange(`promote ${learner}`, () => leader.server.memberPromote(learner));
        continue;
      }
      const behind = this.cluster
        .members()
        .filter((slot) => !this.caughtUp(slot, status.commit) || slot.raft?.status().lead !== leader.slot.id);
      if (behind.length === 0) return;
      why = `behind the leader's commit ${status.commit}: ${behind
        .map((s) => `${s.name} applied=${s.raft?.status().appliedIndex ?? 'down'}`)
        .join(', ')}`;
    }
    throw new Error(`did not settle: ${why}`);
  }

  private caughtUp(slot: MemberSlot, commit: number): boolean {
    if (this.cluster.serverOf(slot) === undefined) return false;
    return (slot.raft?.status().appliedIndex ?? -1) >= commit;
  }
}

function isLearner(slot: MemberSlot): boolean {
  return slot.raft?.status().confState.learners.includes(slot.id) ?? false;
}

function refused(err: unknown): boolean {
  return isStoreError(err) && REFUSED.has(err.etcd);
}

function describe(out: Outcome<unknown>): string {
  return out.kind === 'error' ? String(out.err) : out.kind;
}

/** Runs `input` on `server` and maps the response to the checker's output. */
async function execute(server: StoreServer, input: KvInput, signal: AbortSignal): Promise<KvOutput> {
  const key = utf8(input.key);
  switch (input.type) {
    case 'put': {
      const r = await server.put({ key, value: utf8(input.value) }, { signal });
      return { type: 'put', revision: r.header.revision };
    }
    case 'get': {
      const r = await server.range({ key }, { signal });
      const kv = r.kvs[0];
      return kv === undefined
        ? { type: 'get', value: null, modRevision: 0 }
        : { type: 'get', value: fromUtf8(kv.value), modRevision: kv.modRevision };
    }
    case 'delete': {
      const r = await server.deleteRange({ key }, { signal });
      return { type: 'delete', deleted: r.deleted, revision: r.header.revision };
    }
    case 'cas': {
      const c = input.compare;
      const compare =
        'value' in c
          ? { key, target: 'value' as const, result: 'equal' as const, value: utf8(c.value) }
          : { key, target: 'mod' as const, result: 'equal' as const, value: c.modRevision };
      const r = await server.txn(
        { compare: [compare], success: [{ put: { key, value: utf8(input.value) } }], failure: [] },
        { signal },
      );
      return { type: 'cas', succeeded: r.succeeded, revision: r.header.revision };
    }
  }
}
