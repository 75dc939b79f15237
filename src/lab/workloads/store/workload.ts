import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CairnError, type Clock, describeError, Rng, sleep } from '../../../core/index.js';
import type { MembershipPreset } from '../../../node/config-fields.js';
import { formatKey, generateKey } from '../../../security/key-set.js';
import { formatToken, mintToken } from '../../../security/token.js';
import { EtcdClientStore } from '../../../store/client/etcd-client-store.js';
import { isStoreError } from '../../../store/errors.js';
import { type AgentSpec, delay, LAB_PORTS } from '../../hosts/agent-process.js';
import { HistoryRecorder, type KvInput, type KvOutput } from '../../lincheck/index.js';
import type { NemesisRecord } from '../../nemesis/executor.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../../run/workload.js';
import { checkStore, FINAL_CLIENT_BASE, type FinalRead, type StoreHistory } from './check.js';
import { classifyError, type FinalRow, LabStoreClient } from './client.js';
import { KeySpace } from './keys.js';
import { type SavedStoreHistory, STORE_HISTORY_FILE, serializeOperations } from './saved.js';
import { waitStatuses } from './status.js';

/**
 * The store workload: N agents with roles `membership,store`, the first three (or all, when fewer)
 * bootstrapping the store as voters and the rest joining as learners that the workload promotes;
 * the etcd API needs a capability token beyond loopback, so the run makes a root key (what `cairn
 * token key` does), hands it to every agent in `CAIRN_TOKEN_ROOT_KEYS`, and its clients send a
 * token minted from it as the etcd password. `clientsPerNode` clients per agent, each pinned to
 * that agent's endpoint, run put/get/delete/compare-and-set on a few keys (retired after
 * `storeOpsPerKey` operations), every call recorded with its invoke and completion (unknown on a
 * timeout or a lost answer). After the heal, the cluster settles, every node is read linearizably
 * for every key ever used, and `checkStore` judges the history (check.ts).
 */

/** Options of {@link StoreWorkload}. */
export interface StoreWorkloadOptions {
  /** Number of agents. */
  nodes: number;
  /** Membership preset of every agent. */
  preset: MembershipPreset;
  /** Root seed of the run: the clients' choices derive from it. */
  seed: number;
  /** Clients per agent; default 3. */
  clientsPerNode?: number;
  /** The lab clock, for the waits. */
  clock: Clock;
}

/** Voters named in `store.initialCluster`: etcd's smallest fault-tolerant cluster. */
const INITIAL_VOTERS = 3;

/**
 * Operations the recorder must accept: the clients' (`storeMaxOperations`), plus every attempt of
 * every final read of every key a run of that many operations can have used, through every node.
 */
function recorderCapacity(nodes: number): number {
  const L = DEFAULT_LIMITS;
  const keys = Math.ceil(L.storeMaxOperations / L.storeOpsPerKey) + L.storeActiveKeys;
  return L.storeMaxOperations + keys * nodes * L.storeFinalReadAttempts;
}

/** See the file comment. */
export class StoreWorkload implements Workload {
  readonly name = 'store';
  private readonly rootKey = generateKey();
  private readonly token = formatToken(mintToken(this.rootKey));
  private readonly keys = new KeySpace(DEFAULT_LIMITS.storeActiveKeys, DEFAULT_LIMITS.storeOpsPerKey);
  private clients: LabStoreClient[] = [];
  private loops: Promise<void>[] = [];
  private stopping = false;
  private recorder = new HistoryRecorder<KvInput, KvOutput>();
  private failed = 0;
  private invoked = 0;
  private readonly errors: Record<string, number> = {};
  private final: FinalRead[] = [];
  private startedAt = 0;
  private stoppedAt = 0;

  /** @param options - nodes, preset, seed, clients, clock */
  constructor(private readonly options: StoreWorkloadOptions) {}

  agentSpec(): AgentSpec {
    const voters = Array.from(
      { length: Math.min(INITIAL_VOTERS, this.options.nodes) },
      (_, i) => `node-${i}`,
    );
    return {
      roles: ['membership', 'store'],
      preset: this.options.preset,
      extraArgs: ['--store-initial-cluster', voters.join(','), '--etcd-port', String(LAB_PORTS.etcd)],
      env: { CAIRN_TOKEN_ROOT_KEYS: formatKey(this.rootKey) },
    };
  }

  async start(ctx: WorkloadContext): Promise<void> {
    const { hosts, log, signal } = ctx;
    const n = hosts.agents.length;
    const voters = hosts.agents.slice(0, Math.min(INITIAL_VOTERS, n));
    await waitStatuses(
      voters,
      (all) => all.every((s) => s !== undefined && s.leader !== '' && s.leader === all[0]!.leader),
      DEFAULT_LIMITS.formTimeoutMs,
      signal,
      'the store to elect a leader',
    );
    log.say('store', `the store has a leader among ${voters.length} voters`);
    for (let i = voters.length; i < n; i++) await this.promote(ctx, i);
    await waitStatuses(
      hosts.agents,
      (all) => all.every((s) => s !== undefined && s.members.length === n && s.learners.length === 0),
      DEFAULT_LIMITS.storePromoteTimeoutMs,
      signal,
      `every node to list ${n} voters`,
    );
    log.say('formed', `every node lists all ${n} store members as voters`);
    // The recorder's clock: monotonic, on the run log's scale (ms since the run's epoch).
    const offset = log.now() - performance.now();
    this.recorder = new HistoryRecorder<KvInput, KvOutput>({
      now: () => Math.round((performance.now() + offset) * 1000) / 1000,
      maxOperations: recorderCapacity(n),
    });
    const perNode = this.options.clientsPerNode ?? 3;
    this.clients = hosts.agents.map(
      (a) => new LabStoreClient(`${a.host.address}:${LAB_PORTS.etcd}`, this.token),
    );
    const rng = Rng.fromSeed(this.options.seed).child('store-clients');
    this.startedAt = log.now();
    for (let c = 0; c < n * perNode; c++) this.loops.push(this.clientLoop(c, c % n, rng.child(c)));
    log.say('clients', `${n * perNode} clients started, ${perNode} per node`);
  }

  /** Waits for node `index` to be listed as a learner, then promotes it (bounded). */
  private async promote(ctx: WorkloadContext, index: number): Promise<void> {
    const name = `node-${index}`;
    const [status] = await waitStatuses(
      [ctx.hosts.agents[0]!],
      (all) =>
        all[0]?.learners.some((m) => m.name === name) === true ||
        all[0]?.members.some((m) => m.name === name) === true,
      DEFAULT_LIMITS.storePromoteTimeoutMs,
      ctx.signal,
      `${name} to join the store as a learner`,
    );
    const learner = status?.learners.find((m) => m.name === name);
    if (learner === undefined) return;
    const admin = new EtcdClientStore({
      hosts: [`${ctx.hosts.agents[0]!.host.address}:${LAB_PORTS.etcd}`],
      auth: { username: 'lab', password: this.token },
      dialTimeoutMs: DEFAULT_LIMITS.storeOpTimeoutMs,
    });
    const deadline = Date.now() + DEFAULT_LIMITS.storePromoteTimeoutMs;
    try {
      for (;;) {
        try {
          await admin.memberPromote(Number.parseInt(learner.id, 16));
          ctx.log.say('store', `${name} promoted from learner to voter`);
          return;
        } catch (err) {
          // Refused until the learner caught up; anything else is worth a retry too while forming.
          if (Date.now() > deadline || ctx.signal.aborted) {
            throw new CairnError(
              'TIMEOUT',
              `${name} was not promoted within ${DEFAULT_LIMITS.storePromoteTimeoutMs} ms (storePromoteTimeoutMs): ${describeError(err)}`,
            );
          }
          if (!isStoreError(err, 'learnerNotReady'))
            ctx.log.record('promote-retry', { name, error: describeError(err) });
          await sleep(this.options.clock, DEFAULT_LIMITS.storeErrorBackoffMs);
        }
      }
    } finally {
      await admin.close().catch(() => {});
    }
  }

  /** One client: operations one at a time against its node until the workload stops. */
  private async clientLoop(clientId: number, node: number, rng: Rng): Promise<void> {
    const client = this.clients[node]!;
    const seen = new Map<string, { value: string | null; modRevision: number }>();
    for (let seq = 0; !this.stopping && seq < DEFAULT_LIMITS.storeMaxOperations; seq++) {
      if (++this.invoked > DEFAULT_LIMITS.storeMaxOperations) break;
      const key = this.keys.pick(rng);
      const input = nextInput(rng, `c${clientId}-${seq}`, key, seen.get(key));
      const id = this.recorder.invoke(clientId, input);
      try {
        const out = await client.run(input);
        this.recorder.ok(id, out);
        learn(seen, input, out);
      } catch (err) {
        const c = classifyError(err, input.type === 'get');
        this.recorder[c.outcome](id);
        if (c.outcome === 'fail') this.failed++;
        this.errors[c.kind] = (this.errors[c.kind] ?? 0) + 1;
        await delay(DEFAULT_LIMITS.storeErrorBackoffMs);
      }
    }
  }

  async finish(ctx: WorkloadContext): Promise<void> {
    const { hosts, log, signal } = ctx;
    const healedAt = log.say('healed', 'every fault healed; stopping the clients');
    this.stopping = true;
    await Promise.all(this.loops);
    this.stoppedAt = log.now();
    const pending = this.recorder.pendingCount;
    log.say(
      'clients',
      `clients stopped ${this.stoppedAt - healedAt} ms after the heal (${pending} calls pending)`,
    );
    try {
      // Settled: one leader everyone names and every member applied the same index, twice in a row
      // (a late proposal from the fault phase has then either applied everywhere or never will).
      let previous = -1;
      await waitStatuses(
        hosts.agents,
        (all) => {
          const ok =
            all.every((s) => s !== undefined && s.leader !== '' && s.leader === all[0]!.leader) &&
            all.every((s) => s!.appliedIndex === all[0]!.appliedIndex && s!.commitIndex === s!.appliedIndex);
          const index = all[0]?.appliedIndex ?? -1;
          const stable = ok && index === previous;
          previous = ok ? index : -1;
          return stable;
        },
        DEFAULT_LIMITS.storeSettleTimeoutMs,
        signal,
        'the store to settle after the heal',
        1_000,
      );
      log.say('settled', `the store settled ${log.now() - healedAt} ms after the heal`);
    } catch (err) {
      log.say('settled', `the store did not settle: ${describeError(err)}; reading anyway`);
    }
    this.final = await Promise.all(hosts.agents.map((_, node) => this.finalRead(ctx, node)));
    const read = this.final.filter((r) => r.rows !== undefined).length;
    log.say(
      'final',
      `final reads of ${this.keys.all.length} keys through ${read} of ${hosts.agents.length} nodes`,
    );
  }

  /** Reads every key ever used through node `node`, page by page, each page recorded as gets. */
  private async finalRead(ctx: WorkloadContext, node: number): Promise<FinalRead> {
    const client = this.clients[node]!;
    const keys = [...this.keys.all].sort();
    const rows: FinalRow[] = [];
    for (let from = 0; from < keys.length; from += DEFAULT_LIMITS.storeFinalReadKeys) {
      const page = keys.slice(from, from + DEFAULT_LIMITS.storeFinalReadKeys);
      let error = '';
      let done = false;
      for (let attempt = 0; attempt < DEFAULT_LIMITS.storeFinalReadAttempts && !done; attempt++) {
        if (ctx.signal.aborted) return { node, at: ctx.log.now(), error: 'the run was interrupted' };
        const ids = page.map((key) => this.recorder.invoke(FINAL_CLIENT_BASE + node, { type: 'get', key }));
        try {
          const present = new Map((await client.readRange(page[0]!, page.at(-1)!)).map((r) => [r.key, r]));
          page.forEach((key, i) => {
            const row = present.get(key) ?? { key, value: null, modRevision: 0 };
            this.recorder.ok(ids[i]!, { type: 'get', value: row.value, modRevision: row.modRevision });
            rows.push(row);
          });
          done = true;
        } catch (err) {
          for (const id of ids) this.recorder.fail(id);
          error = describeError(err);
          await delay(DEFAULT_LIMITS.storeErrorBackoffMs * 2);
        }
      }
      if (!done)
        return {
          node,
          at: ctx.log.now(),
          error: `${DEFAULT_LIMITS.storeFinalReadAttempts} attempts failed; last: ${error}`,
        };
    }
    return { node, at: ctx.log.now(), rows };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
    this.clients = [];
  }

  check(nemesis: NemesisRecord, logDir: string): WorkloadResult {
    const history: StoreHistory = {
      nodes: this.final.length,
      operations: this.recorder.operations(),
      failed: this.failed,
      errors: this.errors,
      final: this.final,
      faultCounts: nemesis.counts,
      timeline: nemesis.timeline,
    };
    const saved: SavedStoreHistory = {
      workload: 'store',
      history: { ...history, operations: serializeOperations(history.operations) },
    };
    writeFileSync(join(logDir, STORE_HISTORY_FILE), `${JSON.stringify(saved)}\n`);
    const result = checkStore(history);
    const seconds = Math.max(1, (this.stoppedAt - this.startedAt) / 1000);
    const ops = result.figures.operations as number;
    return { ...result, figures: { ...result.figures, opsPerSecond: Math.round(ops / seconds) } };
  }
}

/** The next operation of a client: reads, blind writes, deletes, and compare-and-sets on what it last saw. */
function nextInput(
  rng: Rng,
  value: string,
  key: string,
  seen: { value: string | null; modRevision: number } | undefined,
): KvInput {
  const r = rng.int(10);
  if (r < 4) return { type: 'get', key };
  if (r < 7) return { type: 'put', key, value };
  if (r < 9) {
    const compare =
      seen?.value != null && rng.chance(0.5)
        ? { value: seen.value }
        : { modRevision: seen?.modRevision ?? 0 };
    return { type: 'cas', key, compare, value };
  }
  return { type: 'delete', key };
}

/** What a client believes a key holds after a completed operation (for its next compare). */
function learn(
  seen: Map<string, { value: string | null; modRevision: number }>,
  input: KvInput,
  out: KvOutput,
): void {
  if (out.type === 'get') seen.set(input.key, { value: out.value, modRevision: out.modRevision ?? 0 });
  else if (input.type === 'put' && out.type === 'put')
    seen.set(input.key, { value: input.value, modRevision: out.revision ?? 0 });
  else if (input.type === 'cas' && out.type === 'cas' && out.succeeded)
    seen.set(input.key, { value: input.value, modRevision: out.revision ?? 0 });
  else if (out.type === 'delete') seen.set(input.key, { value: null, modRevision: 0 });
}
