import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng, systemClock } from '../../core/index.js';
import { LevelStorage } from '../../storage/index.js';
import { NetTransport } from '../../transport/net/net-transport.js';
import { KvNode } from '../cluster/kv-node.js';
import { FakeMembership } from '../cluster/testing.js';
import { isKvError } from '../errors.js';
import { type RespServer, serveResp } from '../resp/server.js';
import { tokenOf } from '../ring/partitioner.js';
import { Ring } from '../ring/ring.js';
import type { KvApi, KvEntry, KvReadOptions, KvScanPage, KvWriteOptions, RingInfo } from '../types.js';
import { KvClient } from './client.js';

/**
 * KvClient against three KvNodes on loopback TCP and LevelDB, each behind its own Redis front
 * end: calls are routed to a natural replica of their key, multi-key calls split per node, and
 * calls keep working when one front end goes away.
 */

/** Forwards to the node once it exists, and records which keys this front end coordinated. */
class FrontKv implements KvApi {
  node: KvNode | undefined;
  readonly keys: string[] = [];
  private target(): KvNode {
    assert.ok(this.node !== undefined, 'node not started');
    return this.node;
  }
  get(key: Uint8Array, options?: KvReadOptions): Promise<KvEntry | undefined> {
    this.keys.push(Buffer.from(key).toString());
    return this.target().get(key, options);
  }
  put(key: Uint8Array, value: Uint8Array | undefined, options?: KvWriteOptions): Promise<void> {
    this.keys.push(Buffer.from(key).toString());
    return this.target().put(key, value, options);
  }
  scan(cursor: bigint, options: { count: number } & KvReadOptions): Promise<KvScanPage> {
    return this.target().scan(cursor, options);
  }
  approximateSize(): Promise<number> {
    return this.target().approximateSize();
  }
  ring(): RingInfo {
    return this.target().ring();
  }
}

const NAMES = ['a', 'b', 'c', 'd'] as const;

describe('KvClient against KvNodes on loopback', () => {
  const cleanup: (() => Promise<void>)[] = [];
  const fronts = new Map<string, FrontKv>();
  const servers = new Map<string, RespServer>();
  const membership = new FakeMembership();
  let client: KvClient;

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-kv-client-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    for (const name of NAMES) {
      const front = new FrontKv();
      const server = await serveResp({ kv: front, host: '127.0.0.1', port: 0 });
      const transport = await NetTransport.create({ host: '127.0.0.1', port: 0 });
      const storage = await LevelStorage.open(join(dir, name));
      membership.add(name, transport.localAddress);
      const node = await KvNode.start({
        name,
        transport,
        view: membership.viewFor(name),
        storage,
        clock: systemClock,
        rng: Rng.fromSeed(name),
        respAddress: server.endpoint,
        config: { seeds: [...NAMES], antiEntropyIntervalMs: 0, rf: 3, tokensPerNode: 8, sync: false },
      });
      front.node = node;
      fronts.set(name, front);
      servers.set(name, server);
      cleanup.push(async () => {
        await server.close().catch(() => {});
        await node.stop();
        await transport.close();
        await storage.close();
      });
    }
    client = await KvClient.connect({ nodes: [servers.get('a')!.endpoint], rng: Rng.fromSeed(7) });
    cleanup.push(async () => client.close());
  });
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  /** The names of the front ends that saw `key`. */
  function coordinators(key: string): string[] {
    return NAMES.filter((n) => fronts.get(n)!.keys.includes(key));
  }

  it('learns the ring and sends each key to one of its natural replicas', async () => {
    const ring = client.ring();
    assert.equal(ring?.rf, 3);
    assert.deepEqual(ring?.nodes.map((n) => n.name).sort(), [...NAMES]);
    for (const n of ring!.nodes) assert.equal(n.resp, servers.get(n.name)!.endpoint);
    let notReplica = 0;
    for (let i = 0; i < 60; i++) {
      const key = `route:${i}`;
      await client.set(key, `v${i}`);
      assert.equal(Buffer.from((await client.get(key))!).toString(), `v${i}`);
      const replicas = new Set(replicasOf(client, key));
      assert.equal(replicas.size, 3);
      for (const c of coordinators(key)) if (!replicas.has(c)) notReplica++;
    }
    assert.equal(notReplica, 0, 'every call went to a natural replica of its key');
    // With 4 nodes and rf 3, spreading among replicas reaches every node.
    for (const n of NAMES)
      assert.ok(
        fronts.get(n)!.keys.some((k) => k.startsWith('route:')),
        `node ${n} coordinated`,
      );
  });

  it('splits multi-key calls per node and reassembles them in order', async () => {
    const pairs = Array.from({ length: 100 }, (_, i) => [`multi:${i}`, `m${i}`] as const);
    await client.mset(pairs);
    const values = await client.mget([...pairs.map((p) => p[0]), 'multi:absent']);
    assert.deepEqual(
      values.map((v) => (v === undefined ? undefined : Buffer.from(v).toString())),
      [...pairs.map((p) => p[1]), undefined],
    );
    for (const [key] of pairs) {
      const replicas = new Set(replicasOf(client, key));
      for (const c of coordinators(key)) assert.ok(replicas.has(c), `${key} went to ${c}, not a replica`);
    }
    assert.equal(await client.exists(pairs.map((p) => p[0])), 100);
    assert.equal(await client.del(pairs.slice(0, 50).map((p) => p[0])), 50);
    assert.equal(
      await client.exists(
        pairs.map((p) => p[0]),
        { consistency: 'ALL' },
      ),
      50,
    );
    const scanned = new Set<string>();
    for await (const k of client.scan({ match: 'multi:*', count: 7 })) scanned.add(Buffer.from(k).toString());
    assert.deepEqual(
      [...scanned].sort(),
      pairs
        .slice(50)
        .map((p) => p[0])
        .sort(),
    );
  });

  it('keeps serving when a front end goes away, and maps UNAVAILABLE at ALL', async () => {
    await servers.get('b')!.close();
    for (let i = 0; i < 30; i++) {
      const key = `fail:${i}`;
      await client.set(key, `f${i}`);
      assert.equal(Buffer.from((await client.get(key))!).toString(), `f${i}`);
    }
    assert.ok(client.stats().retries >= 1, JSON.stringify(client.stats()));
    // Membership sees d dead: ALL fails for its keys with the store's UNAVAILABLE.
    membership.setState('d', 'dead');
    let unavailable = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await client.set(`all:${i}`, 'x', { consistency: 'ALL' });
      } catch (err) {
        assert.ok(isKvError(err, 'UNAVAILABLE'), String(err));
        unavailable++;
      }
    }
    assert.ok(unavailable > 0, 'some keys have d among their replicas');
    membership.setState('d', 'alive');
  });
});

/** The key's natural replicas on the ring the client fetched, computed here from the partitioner. */
function replicasOf(client: KvClient, key: string): readonly string[] {
  const info = client.ring()!;
  return Ring.build(info.nodes, info.rf).replicas(tokenOf(Buffer.from(key)));
}
