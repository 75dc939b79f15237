import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CairnError, describeError, Rng } from '../../../core/index.js';
import { DEFAULT_KV_CONFIG } from '../../../kv/cluster/config.js';
import { CONFIG_FIELDS, type MembershipPreset } from '../../../node/config-fields.js';
import { formatKey, generateKey } from '../../../security/key-set.js';
import { formatToken, mintToken } from '../../../security/token.js';
import { type AgentProcess, type AgentSpec, delay } from '../../hosts/agent-process.js';
import type { NemesisRecord } from '../../nemesis/executor.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../../run/workload.js';
import { KeySpace } from '../store/keys.js';
import { checkKv } from './check.js';
import { classifyKvError, isSetupError, LabKvClient } from './client.js';
import {
  FINAL_CLIENT_BASE,
  KV_HISTORY_FILE,
  type KvFinalFailure,
  type KvHistory,
  type KvLevel,
  type KvOp,
  type SavedKvHistory,
} from './history.js';
import { kvStatuses } from './status.js';

/**
 * The kv workload (issue 13's lab workload): N agents with roles `membership,kv`, every one a kv
 * seed (so each starts `normal`: no joins in this workload), RESP on port 6379 of its namespace
 * address. Beyond loopback the kv role needs token root keys, so the run makes one, hands it to
 * every agent in `CAIRN_TOKEN_ROOT_KEYS` and its clients AUTH with a token minted from it.
 * `clientsPerNode` clients per agent, each pinned to its agent, run SET (50 %), GET (40 %) and DEL
 * (10 %) at QUORUM, one at a time, on a few keys retired after `kvOpsPerKey` operations; values
 * name their write (`c<client>-<seq>`). After the heal: clients stop, the run waits for repair
 * (every node's hints delivered, then `kvRepairRounds` anti-entropy rounds on every node), then
 * reads every key ever used through every node at ONE, ALL and QUORUM, in that order (ONE first:
 * ALL and QUORUM reads repair what they read), and `checkKv` judges the history (check.ts).
 */

/** Options of {@link KvWorkload}. */
export interface KvWorkloadOptions {
  /** Number of agents. */
  nodes: number;
  /** Membership preset of every agent. */
  preset: MembershipPreset;
  /** Root seed of the run: the clients' choices derive from it. */
  seed: number;
  /** Clients per agent; default 3. */
  clientsPerNode?: number;
}

/** The Redis-protocol port of every agent (each host has its own address). */
export const LAB_RESP_PORT = 6379;

/** The `cairn agent` flag of config field `path`, when this checkout's agent has one. */
function flagOf(path: string): string | undefined {
  const flag = CONFIG_FIELDS.find((f) => f.path === path)?.flag;
  return flag === undefined ? undefined : `--${flag}`;
}

/** Operations a client picks: reads 40 %, blind writes 50 %, deletes 10 %. */
function nextType(rng: Rng): KvOp['type'] {
  const r = rng.int(10);
  return r < 4 ? 'get' : r < 9 ? 'set' : 'del';
}

/** See the file comment. */
export class KvWorkload implements Workload {
  readonly name = 'kv';
  private readonly rootKey = generateKey();
  private readonly token = formatToken(mintToken(this.rootKey));
  private readonly keys = new KeySpace(DEFAULT_LIMITS.kvActiveKeys, DEFAULT_LIMITS.kvOpsPerKey);
  private readonly ops: KvOp[] = [];
  private readonly errors: Record<string, number> = {};
  private readonly errorSamples: Record<string, string> = {};
  private readonly clients: LabKvClient[] = [];
  private loops: Promise<void>[] = [];
  private stopping = false;
  private now: () => number = () => 0;
  private finalFailures: KvFinalFailure[] = [];
  private repaired = false;
  private repair = 'the run did not reach the repair phase';
  private startedAt = 0;
  private stoppedAt = 0;
  /** Anti-entropy period given to the agents, or undefined when their config has no such field. */
  private readonly antiEntropyMs: number | undefined;

  /** @param options - nodes, preset, seed, clients */
  constructor(private readonly options: KvWorkloadOptions) {
    this.antiEntropyMs =
      flagOf('kv.antiEntropyIntervalMs') === undefined ? undefined : DEFAULT_LIMITS.kvAntiEntropyIntervalMs;
  }

  agentSpec(): AgentSpec {
    const names = Array.from({ length: this.options.nodes }, (_, i) => `node-${i}`);
    const extra = ['--resp-port', String(LAB_RESP_PORT)];
    const optional: [string, string][] = [
      ['kv.seeds', names.join(',')],
      ['kv.antiEntropyIntervalMs', String(DEFAULT_LIMITS.kvAntiEntropyIntervalMs)],
      ['kv.hintReplayIntervalMs', String(DEFAULT_LIMITS.kvHintReplayIntervalMs)],
    ];
    for (const [path, value] of optional) {
      const flag = flagOf(path);
      if (flag !== undefined) extra.push(flag, value);
    }
    return {
      roles: ['membership', 'kv'],
      preset: this.options.preset,
      extraArgs: extra,
      env: { CAIRN_TOKEN_ROOT_KEYS: formatKey(this.rootKey) },
    };
  }

  private client(agent: AgentProcess): LabKvClient {
    return new LabKvClient({ host: agent.host.address, port: LAB_RESP_PORT, token: this.token });
  }

  async start(ctx: WorkloadContext): Promise<void> {
    const { hosts, log, signal } = ctx;
    const n = hosts.agents.length;
    await this.waitRing(ctx);
    log.say('formed', `every node lists all ${n} kv nodes normal on its ring`);
    // The history's clock: monotonic, on the run log's scale (ms since the run's epoch).
    const offset = log.now() - performance.now();
    this.now = () => Math.round((performance.now() + offset) * 1000) / 1000;
    const perNode = this.options.clientsPerNode ?? 3;
    const rng = Rng.fromSeed(this.options.seed).child('kv-clients');
    this.startedAt = log.now();
    for (let c = 0; c < n * perNode; c++) {
      const client = this.client(hosts.agents[c % n]!);
      this.clients.push(client);
      this.loops.push(this.clientLoop(c, c % n, client, rng.child(c), signal));
    }
    log.say('clients', `${n * perNode} clients started, ${perNode} per node, SET/GET/DEL at QUORUM`);
  }

  /** Waits until every node's `CAIRN RING` lists every node `normal` (bounded by `kvFormTimeoutMs`). */
  private async waitRing(ctx: WorkloadContext): Promise<void> {
    const agents = ctx.hosts.agents;
    const clients = agents.map((a) => this.client(a));
    const deadline = Date.now() + DEFAULT_LIMITS.kvFormTimeoutMs;
    let last: string[] = [];
    try {
      while (Date.now() < deadline) {
        if (ctx.signal.aborted)
          throw new CairnError('CANCELLED', 'the run was stopped while the kv ring formed');
        last = await Promise.all(
          clients.map((c) =>
            c.normalNodes().then(
              (names) => `${names.length} normal`,
              (err: unknown) => describeError(err),
            ),
          ),
        );
        if (last.every((s) => s === `${agents.length} normal`)) return;
        await delay(500);
      }
    } finally {
      for (const c of clients) c.close();
    }
    const text = last.map((s, i) => `node-${i}: ${s}`).join('; ');
    throw new CairnError(
      'TIMEOUT',
      `the kv ring did not list every node normal within ${DEFAULT_LIMITS.kvFormTimeoutMs} ms (kvFormTimeoutMs): ${text}`,
    );
  }

  /** One client: SET/GET/DEL one at a time against its node until the workload stops. */
  private async clientLoop(
    clientId: number,
    node: number,
    client: LabKvClient,
    rng: Rng,
    signal: AbortSignal,
  ): Promise<void> {
    for (let seq = 0; !this.stopping && !signal.aborted; seq++) {
      if (this.ops.length >= DEFAULT_LIMITS.kvMaxOperations) break;
      const key = this.keys.pick(rng);
      const type = nextType(rng);
      const op: KvOp = {
        id: this.ops.length,
        client: clientId,
        node,
        key,
        type,
        level: 'QUORUM',
        call: 0,
        ret: null,
        outcome: 'unknown',
      };
      if (type === 'set') op.value = `c${clientId}-${seq}`;
      this.ops.push(op);
      op.call = this.now();
      try {
        if (type === 'set') await client.set(key, op.value!);
        else if (type === 'get') op.read = await client.get(key);
        else op.deleted = await client.del(key);
        op.ret = this.now();
        op.outcome = 'ok';
      } catch (err) {
        const c = classifyKvError(err, type === 'get', !isSetupError(err));
        op.outcome = c.outcome;
        op.ret = c.outcome === 'unknown' ? null : this.now();
        op.error = c.kind;
        this.errors[c.kind] = (this.errors[c.kind] ?? 0) + 1;
        this.errorSamples[c.kind] ??= `${describeError(err)}`.slice(0, 300);
        await delay(DEFAULT_LIMITS.kvErrorBackoffMs);
      }
    }
  }

  async finish(ctx: WorkloadContext): Promise<void> {
    const { hosts, log } = ctx;
    const healedAt = log.say('healed', 'every fault healed; stopping the clients');
    this.stopping = true;
    await Promise.all(this.loops);
    this.stoppedAt = log.now();
    for (const c of this.clients) c.close();
    log.say('clients', `clients stopped ${this.stoppedAt - healedAt} ms after the heal`);
    await this.waitRepair(ctx, healedAt);
    for (const level of ['ONE', 'ALL', 'QUORUM'] as const) {
      await Promise.all(hosts.agents.map((a, node) => this.finalRead(ctx, a, node, level)));
    }
    const failed = new Set(this.finalFailures.map((f) => f.node)).size;
    log.say(
      'final',
      `final reads of ${this.keys.all.length} keys at ONE, ALL and QUORUM through ${hosts.agents.length - failed} of ${hosts.agents.length} nodes`,
    );
  }

  /**
   * Waits until every node reports no hints pending, then until every node completed
   * `kvRepairRounds` anti-entropy rounds more (the first may have begun before the heal). Sets
   * `repaired` when both were seen; never throws (the final reads run anyway and say what they see).
   */
  private async waitRepair(ctx: WorkloadContext, healedAt: number): Promise<void> {
    const { hosts, log, signal } = ctx;
    const hints = await pollStatuses(hosts.agents, DEFAULT_LIMITS.kvHintsTimeoutMs, signal, (all) =>
      all.every((s) => s !== undefined && s.hintBytes === 0),
    );
    if (!hints.ok) {
      this.repair = `hints were still pending ${DEFAULT_LIMITS.kvHintsTimeoutMs} ms after the clients stopped (kvHintsTimeoutMs): ${describeStatuses(hints.last)}`;
      log.say('repair', this.repair);
      return;
    }
    log.say('repair', `every node's hints delivered ${log.now() - healedAt} ms after the heal`);
    if (this.antiEntropyMs === undefined) {
      this.repair =
        'hints delivered; the agents have no anti-entropy interval setting, so no round was awaited';
      log.say('repair', this.repair);
      return;
    }
    const rounds = DEFAULT_LIMITS.kvRepairRounds;
    const base = hints.last.map((s) => s!.antiEntropyRounds);
    const timeoutMs = (rounds + 2) * this.antiEntropyMs + 30_000;
    const ae = await pollStatuses(hosts.agents, timeoutMs, signal, (all) =>
      all.every((s, i) => s !== undefined && s.antiEntropyRounds >= base[i]! + rounds),
    );
    if (!ae.ok) {
      this.repair = `anti-entropy did not complete ${rounds} rounds on every node within ${timeoutMs} ms: ${describeStatuses(ae.last)}`;
      log.say('repair', this.repair);
      return;
    }
    this.repaired = true;
    this.repair = `hints delivered and ${rounds} anti-entropy rounds on every node, ${log.now() - healedAt} ms after the heal`;
    log.say('repair', this.repair);
  }

  /** Reads every key ever used through `agent` at `level`, MGET page by page, each key recorded as a read. */
  private async finalRead(
    ctx: WorkloadContext,
    agent: AgentProcess,
    node: number,
    level: KvLevel,
  ): Promise<void> {
    const client = this.client(agent);
    const keys = [...this.keys.all].sort();
    try {
      for (let from = 0; from < keys.length; from += DEFAULT_LIMITS.kvFinalReadKeys) {
        const page = keys.slice(from, from + DEFAULT_LIMITS.kvFinalReadKeys);
        let error = '';
        let done = false;
        for (let attempt = 0; attempt < DEFAULT_LIMITS.kvFinalReadAttempts && !done; attempt++) {
          if (ctx.signal.aborted) {
            this.finalFailures.push({ node, level, at: ctx.log.now(), error: 'the run was interrupted' });
            return;
          }
          const call = this.now();
          try {
            const values = await client.mget(page, level);
            const ret = this.now();
            page.forEach((key, i) => {
              this.ops.push({
                id: this.ops.length,
                client: FINAL_CLIENT_BASE + node,
                node,
                key,
                type: 'get',
                level,
                call,
                ret,
                outcome: 'ok',
                read: values[i] ?? null,
              });
            });
            done = true;
          } catch (err) {
            error = describeError(err);
            await delay(DEFAULT_LIMITS.kvErrorBackoffMs * 2);
          }
        }
        if (!done) {
          this.finalFailures.push({
            node,
            level,
            at: ctx.log.now(),
            error: `${DEFAULT_LIMITS.kvFinalReadAttempts} attempts failed; last: ${error}`,
          });
          return;
        }
      }
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
  }

  check(nemesis: NemesisRecord, logDir: string): WorkloadResult {
    const history: KvHistory = {
      nodes: this.options.nodes,
      ops: this.ops,
      finalFailures: this.finalFailures,
      repaired: this.repaired,
      repair: this.repair,
      // Versions come from clocks within maxClockOffsetMs of each other (a replica refuses
      // readings further ahead): a write's version is within that of its call, either way.
      slackMs: 2 * DEFAULT_KV_CONFIG.maxClockOffsetMs,
      errors: this.errors,
      errorSamples: this.errorSamples,
      faultCounts: nemesis.counts,
      timeline: nemesis.timeline,
      // The skew fault shifts the agent's membership clock only: the kv role versions writes with
      // the system clock (src/node/kv-role.ts), so a skewed node's writes are ordered like any.
      // Were it shifted, `nemesis.skews` would go here and the checker would not time-order them.
      skews: [],
    };
    const saved: SavedKvHistory = { workload: 'kv', history };
    writeFileSync(join(logDir, KV_HISTORY_FILE), `${JSON.stringify(saved)}\n`);
    const result = checkKv(history);
    const seconds = Math.max(1, (this.stoppedAt - this.startedAt) / 1000);
    const ops = result.figures.operations as number;
    return {
      ...result,
      figures: {
        ...result.figures,
        opsPerSecond: Math.round(ops / seconds),
        repair: this.repair,
        errorSamples: this.errorSamples,
      },
    };
  }
}

type Statuses = Awaited<ReturnType<typeof kvStatuses>>;

/** Polls kv statuses every 500 ms until `ok` or `timeoutMs`; the last statuses either way. */
async function pollStatuses(
  agents: readonly AgentProcess[],
  timeoutMs: number,
  signal: AbortSignal,
  ok: (all: Statuses) => boolean,
): Promise<{ ok: boolean; last: Statuses }> {
  const deadline = Date.now() + timeoutMs;
  let last: Statuses = [];
  while (!signal.aborted) {
    last = await kvStatuses(agents);
    if (ok(last)) return { ok: true, last };
    if (Date.now() >= deadline) break;
    await delay(500);
  }
  return { ok: false, last };
}

function describeStatuses(all: Statuses): string {
  return all
    .map((s, i) =>
      s === undefined
        ? `node-${i}: no kv status`
        : `node-${i}: ${s.ring}, ${s.hintBytes} hint bytes, ${s.antiEntropyRounds} anti-entropy rounds`,
    )
    .join('; ');
}
