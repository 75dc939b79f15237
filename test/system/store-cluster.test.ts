import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkHistory, HistoryRecorder, type KvInput, type KvOutput, kvModel } from '../../src/lab/index.js';
import type { StoreStatusJson } from '../../src/node/store-http.js';
import type { StoreClient } from '../../src/store/api.js';
import { EtcdClientStore } from '../../src/store/client/etcd-client-store.js';
import { isStoreError } from '../../src/store/errors.js';
import { type Node, startNode, stopAll } from './agent-cluster.js';
import { get, runCli } from './agent-helpers.js';

/**
 * The store role on real agent processes: three voters bootstrapped from `store.initialCluster`
 * through membership, a fourth node added as a learner by the leader and promoted through the etcd
 * API, and the leader killed with SIGKILL under load: every acknowledged write survives and the
 * recorded history is linearizable.
 */

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const VOTERS = ['node-0', 'node-1', 'node-2'];
const STORE_ARGS = ['--store-initial-cluster', VOTERS.join(','), '--store-tick-ms', '50'];

interface StoreNode extends Node {
  etcd: string;
}

async function startStoreNode(dir: string, name: string, seeds: readonly Node[]): Promise<StoreNode> {
  const node = await startNode(dir, name, seeds, {}, [...STORE_ARGS, '--roles', 'membership,store']);
  const started = node.proc.stdoutLines.find((l) => l.includes('"agent started"'));
  const etcd = (JSON.parse(started!) as { addresses: { etcd?: string } }).addresses.etcd;
  assert.ok(etcd !== undefined, `${name} reports no etcd address`);
  return { ...node, etcd };
}

async function status(node: Node): Promise<StoreStatusJson | undefined> {
  const res = await get(`${node.http}/v1/store/status`).catch(() => undefined);
  return res?.status === 200 ? (JSON.parse(res.text) as StoreStatusJson) : undefined;
}

/** Polls until `ok` holds on the statuses of `nodes` (bounded: 300 polls of 100 ms). */
async function waitStatus(
  nodes: readonly Node[],
  ok: (all: (StoreStatusJson | undefined)[]) => boolean,
  what: string,
): Promise<(StoreStatusJson | undefined)[]> {
  let last: (StoreStatusJson | undefined)[] = [];
  for (let i = 0; i < 300; i++) {
    last = await Promise.all(nodes.map(status));
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}; last statuses: ${JSON.stringify(last)}`);
}

const oneLeader = (all: (StoreStatusJson | undefined)[]) =>
  all.every((s) => s !== undefined && s.leader !== '' && s.leader === all[0]!.leader && s.appliedIndex > 0);

describe('store role on real agents', { timeout: 180_000 }, () => {
  let dir: string;
  const nodes: StoreNode[] = [];
  const clients: StoreClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-store-'));
    nodes.push(await startStoreNode(dir, 'node-0', []));
    nodes.push(await startStoreNode(dir, 'node-1', [nodes[0]!]));
    nodes.push(await startStoreNode(dir, 'node-2', [nodes[0]!]));
    await waitStatus(nodes, oneLeader, 'one leader seen by all three voters');
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await stopAll(nodes);
    await rm(dir, { recursive: true, force: true });
  });

  const client = (node: StoreNode): StoreClient => {
    const c = new EtcdClientStore({ hosts: [node.etcd], dialTimeoutMs: 3_000 });
    clients.push(c);
    return c;
  };

  it('bootstraps three voters; a write through one node is read linearizably through the others', async () => {
    const [s0] = await waitStatus(nodes, oneLeader, 'a leader');
    assert.deepEqual(s0!.members.map((m) => m.name).sort(), VOTERS);
    assert.equal(s0!.learners.length, 0);
    const put = await client(nodes[0]!).put({ key: utf8('greeting'), value: utf8('hello') });
    for (const node of nodes.slice(1)) {
      const r = await client(node).range({ key: utf8('greeting') });
      assert.equal(text(r.kvs[0]!.value), 'hello');
      assert.equal(r.kvs[0]!.modRevision, put.header.revision);
    }
    const list = await client(nodes[1]!).memberList();
    assert.deepEqual(list.members.map((m) => m.name).sort(), VOTERS);
  });

  it('cairn store status shows the leader, indexes and members', async () => {
    const proc = runCli(['store', 'status', '--json', '--http', nodes[1]!.http.slice('http://'.length)]);
    const { code } = await proc.exit(20_000);
    assert.equal(code, 0, proc.stderr());
    const body = JSON.parse(proc.stdoutLines.join('\n')) as StoreStatusJson;
    assert.equal(body.name, 'node-1');
    assert.notEqual(body.leader, '');
    assert.ok(body.commitIndex >= body.appliedIndex && body.appliedIndex > 0);
    assert.equal(body.members.length, 3);
  });

  it('a fourth store node joins as a learner through membership and is promoted once caught up', async () => {
    const fourth = await startStoreNode(dir, 'node-3', [nodes[0]!]);
    nodes.push(fourth);
    const [s] = await waitStatus(
      [nodes[0]!],
      (all) => all[0]?.learners.some((m) => m.name === 'node-3') === true,
      'node-3 listed as a learner',
    );
    const id = Number.parseInt(s!.learners.find((m) => m.name === 'node-3')!.id, 16);
    // Promotion is refused until the learner caught up; retry for a bounded while.
    let promoted = false;
    for (let i = 0; i < 100 && !promoted; i++) {
      try {
        await client(nodes[1]!).memberPromote(id);
        promoted = true;
      } catch (err) {
        if (!isStoreError(err, 'learnerNotReady')) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(promoted, 'node-3 was never promoted');
    await waitStatus(
      nodes,
      (all) =>
        all.every((x) => x?.members.some((m) => m.name === 'node-3') === true && x.learners.length === 0),
      'node-3 a voter everywhere',
    );
    const r = await client(fourth).range({ key: utf8('greeting'), serializable: true });
    assert.equal(text(r.kvs[0]!.value), 'hello');
  });

  it('the leader killed with SIGKILL under load: acknowledged writes survive, the history is linearizable', async (t) => {
    const statuses = await waitStatus(nodes, oneLeader, 'a leader before the kill');
    const leaderName = statuses[0]!.leaderName;
    const leaderIndex = nodes.findIndex((n) => n.name === leaderName);
    assert.ok(leaderIndex >= 0);
    // Enough keys that each key's history stays small for the checker (it splits per key).
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const recorder = new HistoryRecorder<KvInput, KvOutput>({ now: () => performance.now() });
    const workers = nodes.map((node, w) => ({ node, c: client(node), w }));
    let stop = false;
    let acknowledged = 0;
    const run = async ({ c, w }: (typeof workers)[number]) => {
      for (let i = 0; i < 10_000 && !stop; i++) {
        const key = keys[(i * 7 + w) % keys.length]!;
        const value = `w${w}-${i}`;
        const signal = AbortSignal.timeout(3_000);
        try {
          if (i % 3 === 0) {
            await recorder.record(w, { type: 'get', key }, async () => {
              const r = await c.range({ key: utf8(key) }, { signal });
              const kv = r.kvs[0];
              return {
                type: 'get',
                value: kv === undefined ? null : text(kv.value),
                ...(kv ? { modRevision: kv.modRevision } : { modRevision: 0 }),
              };
            });
          } else {
            await recorder.record(w, { type: 'put', key, value }, async () => {
              const r = await c.put({ key: utf8(key), value: utf8(value) }, { signal });
              acknowledged++;
              return { type: 'put', revision: r.header.revision };
            });
          }
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const load = Promise.all(workers.map(run));
    await new Promise((r) => setTimeout(r, 1_500));
    const victim = nodes[leaderIndex]!;
    victim.proc.child.kill('SIGKILL');
    await victim.proc.exit(10_000).catch(() => {});
    const survivors = nodes.filter((n) => n !== victim);
    await waitStatus(survivors, oneLeader, 'a new leader among the survivors');
    await new Promise((r) => setTimeout(r, 1_500));
    const restarted = await startStoreNode(dir, victim.name, survivors);
    nodes[leaderIndex] = restarted;
    await new Promise((r) => setTimeout(r, 1_500));
    stop = true;
    await load;
    await waitStatus(
      nodes,
      (all) => oneLeader(all) && all.every((s) => s!.appliedIndex === all[0]!.appliedIndex),
      'all caught up',
    );
    // Final linearizable reads of every key through every node join the history.
    for (const [w, node] of nodes.entries()) {
      const c = client(node);
      for (const key of keys) {
        await recorder.record(100 + w, { type: 'get', key }, async () => {
          const r = await c.range({ key: utf8(key) });
          const kv = r.kvs[0];
          return {
            type: 'get',
            value: kv === undefined ? null : text(kv.value),
            modRevision: kv?.modRevision ?? 0,
          };
        });
      }
    }
    const ops = recorder.operations();
    assert.ok(acknowledged > 20, `only ${acknowledged} writes were acknowledged`);
    const result = checkHistory(kvModel, ops);
    t.diagnostic(
      `${ops.length} operations, ${acknowledged} acknowledged writes, ${recorder.operations().filter((o) => o.ret === Number.POSITIVE_INFINITY).length} unknown outcomes; checked ${result.kind} in ${Math.round(result.elapsedMs)} ms`,
    );
    assert.equal(result.kind, 'ok', result.kind === 'illegal' ? result.report : JSON.stringify(result));
  });
});
