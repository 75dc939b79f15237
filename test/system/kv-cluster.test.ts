import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { KvRingJson, KvStatusJson } from '../../src/node/kv-http.js';
import { type Node, startNode, stopAll } from './agent-cluster.js';
import { get, runCli } from './agent-helpers.js';

/**
 * The kv role on real agent processes on 127.0.0.1, with ioredis clients:
 *
 * 1. three seed nodes; writes at QUORUM from several clients while one node is killed with
 *    SIGKILL and restarted on its data directory (same ports); then every acknowledged write
 *    reads back at QUORUM through every node;
 * 2. a fourth node joins under load: it becomes `normal`, owns ranges, and every acknowledged
 *    write (of both phases) still reads back through every node, the new one included;
 * 3. a node is decommissioned under load through `cairn kv decommission`: the ring shrinks to
 *    three and nothing acknowledged is lost;
 * 4. a fifth node joins, then a node is killed for good; another is restarted once the death is
 *    known everywhere (its membership then never learns the dead node) and still has it on its
 *    ring; the dead node is taken off the ring under load through `cairn kv removenode`: its
 *    ranges are copied to their new owners, every ring drops it, and nothing acknowledged is
 *    lost.
 *
 * Every key is written once (key = writer + sequence number), so "acknowledged and readable"
 * is exact: a write is lost when its key reads back absent or with another value. Load loops are
 * bounded in count and time; waits poll the status endpoints a bounded number of times.
 */

const SEEDS = ['node-0', 'node-1', 'node-2'];
/** A short ring delay: gossip on loopback spreads a status change in well under a second. */
const KV_ARGS = ['--roles', 'membership,kv', '--kv-seeds', SEEDS.join(','), '--kv-ring-delay-ms', '2000'];
/** Per-writer bound on writes in one load phase. */
const MAX_WRITES_PER_WRITER = 5_000;

interface KvAgent extends Node {
  resp: string;
  ports: string[];
}

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(':') + 1);
}

async function startKvNode(
  dir: string,
  name: string,
  seeds: readonly Node[],
  extra: string[] = [],
): Promise<KvAgent> {
  const node = await startNode(dir, name, seeds, {}, [...KV_ARGS, ...extra]);
  const started = node.proc.stdoutLines.find((l) => l.includes('"agent started"'));
  const resp = (JSON.parse(started!) as { addresses: { resp?: string } }).addresses.resp;
  assert.ok(resp !== undefined, `${name} reports no RESP address`);
  const ports = [
    '--http-port',
    portOf(node.http),
    '--gossip-port',
    portOf(node.gossip),
    '--resp-port',
    portOf(resp),
  ];
  return { ...node, resp, ports };
}

async function json<T>(node: Node, path: string): Promise<T | undefined> {
  const res = await get(`${node.http}${path}`).catch(() => undefined);
  return res?.status === 200 ? (JSON.parse(res.text) as T) : undefined;
}

/** Polls until `ok` holds for the ring of every node (bounded: 400 polls of 100 ms). */
async function waitRings(
  nodes: readonly Node[],
  ok: (ring: KvRingJson) => boolean,
  what: string,
): Promise<void> {
  let last: (KvRingJson | undefined)[] = [];
  for (let i = 0; i < 400; i++) {
    last = await Promise.all(nodes.map((n) => json<KvRingJson>(n, '/v1/kv/ring')));
    if (last.every((r) => r !== undefined && ok(r))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(
    `timed out waiting for ${what}; rings: ${JSON.stringify(last.map((r) => r?.nodes.map((n) => `${n.name}=${n.status}`)))}`,
  );
}

const ringOf = (names: readonly string[]) => (ring: KvRingJson) =>
  ring.nodes.length === names.length &&
  ring.nodes.every((n) => names.includes(n.name) && n.status === 'normal' && n.tokens.length > 0);

/** Polls until every node lists `name` dead (bounded: 400 polls of 100 ms). */
async function waitDead(nodes: readonly KvAgent[], name: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const views = await Promise.all(
      nodes.map((n) => json<{ members: { name: string; state: string }[] }>(n, '/v1/members')),
    );
    if (views.every((v) => v?.members.some((m) => m.name === name && m.state === 'dead'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${name} is not listed dead by every node`);
}

/** Polls until every node lists every other one alive (bounded). */
async function waitAlive(nodes: readonly KvAgent[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const views = await Promise.all(
      nodes.map((n) => json<{ members: { name: string; state: string }[] }>(n, '/v1/members')),
    );
    const ok = views.every(
      (v) =>
        v !== undefined &&
        nodes.every((n) => v.members.some((m) => m.name === n.name && m.state === 'alive')),
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('nodes do not all see each other alive');
}

function client(node: KvAgent): Redis {
  const [host, port] = [node.resp.slice(0, node.resp.lastIndexOf(':')), Number(portOf(node.resp))];
  return new Redis({
    host,
    port,
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 5_000,
    // Reconnect every 200 ms: a killed node comes back on the same port.
    retryStrategy: () => 200,
  });
}

/** Writers that SET fresh keys through their node until stopped; `acked` holds what was acknowledged. */
class Load {
  readonly acked = new Map<string, string>();
  failed = 0;
  private stopped = false;
  private readonly runs: Promise<void>[] = [];

  constructor(
    readonly phase: string,
    writers: readonly Redis[],
  ) {
    for (const [w, redis] of writers.entries()) this.runs.push(this.run(w, redis));
  }

  private async run(w: number, redis: Redis): Promise<void> {
    for (let i = 0; i < MAX_WRITES_PER_WRITER && !this.stopped; i++) {
      const key = `${this.phase}-w${w}-${i}`;
      const value = `v${i}-${key}`;
      try {
        assert.equal(await redis.set(key, value), 'OK');
        this.acked.set(key, value);
      } catch {
        this.failed++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Resolves once at least `n` writes were acknowledged (bounded: 600 polls of 50 ms). */
  async atLeast(n: number): Promise<void> {
    for (let i = 0; i < 600 && this.acked.size < n; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(this.acked.size >= n, `only ${this.acked.size} writes acknowledged in ${this.phase}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runs);
  }
}

/** Reads every key of `expected` at QUORUM through `node` (MGET in batches); returns the misses. */
async function missing(redis: Redis, expected: ReadonlyMap<string, string>): Promise<string[]> {
  const keys = [...expected.keys()];
  const lost: string[] = [];
  for (let i = 0; i < keys.length; i += 200) {
    const batch = keys.slice(i, i + 200);
    const values = await redis.mget(...batch);
    for (const [j, key] of batch.entries()) if (values[j] !== expected.get(key)) lost.push(key);
  }
  return lost;
}

describe('kv role on real agents', { timeout: 300_000 }, () => {
  let dir: string;
  const nodes: KvAgent[] = [];
  const clients: Redis[] = [];
  const acked = new Map<string, string>();

  /** A client of `node`, once connected (bounded: 10 s). */
  const connect = async (node: KvAgent): Promise<Redis> => {
    const c = client(node);
    c.on('error', () => {});
    clients.push(c);
    if (c.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection to ${node.name} in 10 s`)), 10_000);
        c.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return c;
  };
  const connectAll = (targets: readonly KvAgent[]) => Promise.all(targets.map(connect));

  const checkAll = async (targets: readonly KvAgent[], what: string) => {
    for (const node of targets) {
      const c = await connect(node);
      await c.call('CAIRN', 'CONSISTENCY', 'QUORUM');
      const lost = await missing(c, acked);
      assert.deepEqual(
        lost.slice(0, 10),
        [],
        `${what}: ${lost.length} of ${acked.size} acknowledged writes not read back through ${node.name}`,
      );
      c.disconnect();
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-kv-'));
    nodes.push(await startKvNode(dir, 'node-0', []));
    nodes.push(await startKvNode(dir, 'node-1', [nodes[0]!]));
    nodes.push(await startKvNode(dir, 'node-2', [nodes[0]!]));
    await waitRings(nodes, ringOf(SEEDS), 'three normal nodes on every ring');
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await stopAll(nodes);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the Redis protocol and the cairn kv commands on every node', async () => {
    const c = await connect(nodes[0]!);
    assert.equal(await c.set('greeting', 'hello'), 'OK');
    for (const node of nodes) assert.equal(await (await connect(node)).get('greeting'), 'hello');
    const set = runCli([
      'kv',
      'set',
      'cli-key',
      'cli-value',
      '--resp',
      nodes[1]!.resp,
      '--consistency',
      'ALL',
    ]);
    assert.equal((await set.exit(20_000)).code, 0, set.stderr());
    const got = runCli(['kv', 'get', 'cli-key', '--resp', nodes[2]!.resp, '--json']);
    assert.equal((await got.exit(20_000)).code, 0, got.stderr());
    assert.deepEqual(JSON.parse(got.stdoutLines.join('')), {
      key: 'cli-key',
      found: true,
      value: 'cli-value',
    });
    const ring = runCli(['kv', 'ring', '--json', '--http', nodes[0]!.http.slice('http://'.length)]);
    assert.equal((await ring.exit(20_000)).code, 0, ring.stderr());
    const body = JSON.parse(ring.stdoutLines.join('')) as KvRingJson;
    assert.equal(body.rf, 3);
    assert.deepEqual(
      body.nodes.map((n) => [n.name, n.status, n.resp]),
      nodes.map((n) => [n.name, 'normal', n.resp]),
    );
  });

  it('a node killed with SIGKILL under QUORUM writes and restarted: every acknowledged write reads back through every node', async (t) => {
    const load = new Load('kill', await connectAll([nodes[0]!, nodes[1]!, nodes[2]!, nodes[0]!]));
    await load.atLeast(200);
    const victim = nodes[1]!;
    victim.proc.child.kill('SIGKILL');
    await victim.proc.exit(10_000).catch(() => {});
    const before = load.acked.size;
    await load.atLeast(before + 300);
    nodes[1] = await startKvNode(dir, victim.name, [nodes[0]!], victim.ports);
    await waitAlive(nodes);
    await waitRings(nodes, ringOf(SEEDS), 'the restarted node back on every ring');
    await load.atLeast(load.acked.size + 200);
    await load.stop();
    for (const [k, v] of load.acked) acked.set(k, v);
    t.diagnostic(`${load.acked.size} writes acknowledged, ${load.failed} failed (the victim's clients)`);
    const status = await json<KvStatusJson>(nodes[0]!, '/v1/kv/status');
    t.diagnostic(`node-0 handoff: ${JSON.stringify(status?.handoff)}`);
    await checkAll(nodes, 'after kill -9 and restart');
  });

  it('a fourth node joins under load, becomes normal, owns ranges, and nothing acknowledged is lost', async (t) => {
    const load = new Load('join', await connectAll(nodes));
    await load.atLeast(200);
    const fourth = await startKvNode(dir, 'node-3', [nodes[0]!]);
    nodes.push(fourth);
    await waitRings(nodes, ringOf([...SEEDS, 'node-3']), 'node-3 normal on every ring');
    const status = await json<KvStatusJson>(fourth, '/v1/kv/status');
    assert.equal(status?.status, 'normal');
    assert.equal(status?.tokens.length, 16);
    assert.equal(status?.streaming?.operation, 'join');
    assert.equal(status?.streaming?.phase, 'done');
    assert.ok((status?.streaming?.cells ?? 0) > 0, 'the join streamed no keys');
    await load.atLeast(load.acked.size + 100);
    await load.stop();
    for (const [k, v] of load.acked) acked.set(k, v);
    t.diagnostic(
      `${load.acked.size} writes acknowledged during the join, ${load.failed} failed; node-3 streamed ${status?.streaming?.cells} keys`,
    );
    await checkAll(nodes, 'after the join');
    // The new node holds data of its own: reads at ONE through it find keys it replicates.
    const one = await connect(fourth);
    await one.call('CAIRN', 'CONSISTENCY', 'ONE');
    assert.equal(await one.get('greeting'), 'hello');
  });

  it('cairn kv decommission streams a node away under load with a progress bar; nothing acknowledged is lost', async (t) => {
    const leaving = nodes[2]!;
    const stay = nodes.filter((n) => n !== leaving);
    const load = new Load('leave', await connectAll(stay));
    await load.atLeast(200);
    const proc = runCli(['kv', 'decommission', '--http', leaving.http.slice('http://'.length)]);
    const { code } = await proc.exit(120_000);
    assert.equal(code, 0, proc.stderr());
    assert.match(proc.stderr(), /\d+\/\d+ ranges, \d+ keys/);
    assert.match(proc.stdoutLines.join('\n'), /node-2 left the ring/);
    const status = await json<KvStatusJson>(leaving, '/v1/kv/status');
    assert.equal(status?.status, 'left');
    assert.equal(status?.decommission?.state, 'done');
    await waitRings(stay, ringOf(stay.map((n) => n.name)), 'the ring without node-2');
    await load.atLeast(load.acked.size + 100);
    await load.stop();
    for (const [k, v] of load.acked) acked.set(k, v);
    t.diagnostic(
      `${load.acked.size} writes acknowledged during the decommission; node-2 streamed ${status?.streaming?.cells} keys`,
    );
    // The node that left is stopped: only the others hold the data now.
    leaving.proc.child.kill('SIGKILL');
    await leaving.proc.exit(10_000).catch(() => {});
    await checkAll(stay, 'after the decommission');
  });

  it('cairn kv removenode takes a node killed for good off the ring under load; nothing acknowledged is lost', async (t) => {
    const live = nodes.filter((n) => n.name !== 'node-2');
    const fifth = await startKvNode(dir, 'node-4', [nodes[0]!]);
    nodes.push(fifth);
    live.push(fifth);
    await waitRings(live, ringOf(live.map((n) => n.name)), 'node-4 normal on every ring');
    const gone = live.find((n) => n.name === 'node-1')!;
    const stay = live.filter((n) => n !== gone);
    gone.proc.child.kill('SIGKILL');
    await gone.proc.exit(10_000).catch(() => {});
    // A node restarted once node-1 is known dead learns only live members from membership: it
    // keeps node-1 on its ring through the ghost the others announce.
    await waitDead(stay, 'node-1');
    const old = stay[1]!;
    old.proc.child.kill('SIGKILL');
    await old.proc.exit(10_000).catch(() => {});
    const restarted = await startKvNode(dir, old.name, [stay[0]!], old.ports);
    stay[1] = restarted;
    nodes[nodes.indexOf(old)] = restarted;
    await waitAlive(stay);
    await waitRings(stay, ringOf(live.map((n) => n.name)), `node-1 on every ring, ${old.name} restarted`);
    const load = new Load('remove', await connectAll(stay));
    await load.atLeast(200);
    // removenode refuses a node membership still shows alive: retry until the death has spread.
    let proc = runCli(['kv', 'removenode', 'node-1', '--http', stay[0]!.http.slice('http://'.length)]);
    let outcome = await proc.exit(180_000);
    for (let i = 0; i < 60 && outcome.code !== 0 && /is alive/.test(proc.stderr()); i++) {
      await new Promise((r) => setTimeout(r, 500));
      proc = runCli(['kv', 'removenode', 'node-1', '--http', stay[0]!.http.slice('http://'.length)]);
      outcome = await proc.exit(180_000);
    }
    assert.equal(outcome.code, 0, proc.stderr());
    assert.match(proc.stderr(), /\d+\/\d+ ranges, \d+ keys/);
    assert.match(proc.stdoutLines.join('\n'), /node-1 is off the ring/);
    const status = await json<KvStatusJson>(stay[0]!, '/v1/kv/status');
    assert.equal(status?.removal?.state, 'done');
    assert.equal(status?.streaming?.operation, 'removenode');
    assert.ok((status?.streaming?.cells ?? 0) > 0, 'the removal copied no keys');
    await waitRings(stay, ringOf(stay.map((n) => n.name)), 'the ring without node-1');
    await load.atLeast(load.acked.size + 100);
    await load.stop();
    for (const [k, v] of load.acked) acked.set(k, v);
    t.diagnostic(
      `${load.acked.size} writes acknowledged during the removal, ${load.failed} failed; ${status?.streaming?.cells} keys copied`,
    );
    await checkAll(stay, 'after the removal');
  });
});
