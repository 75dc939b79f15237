import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fromUtf8, Metrics, Rng, systemClock, utf8 } from '../../core/index.js';
import { LevelStorage } from '../../storage/index.js';
import { NetTransport } from '../../transport/net/net-transport.js';
import { KvNode } from './kv-node.js';
import { FakeMembership } from './testing.js';

/**
 * Three KvNodes in one process on real loopback TCP and LevelDB: the production transport and
 * storage under the same code the simulator tests drive.
 */
describe('KvNode on loopback TCP and LevelDB', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it('writes, reads, deletes and scans across three nodes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-kv-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const membership = new FakeMembership();
    const nodes: KvNode[] = [];
    const metrics = new Metrics({ node: 'a' });
    for (const name of ['a', 'b', 'c']) {
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
        ...(name === 'a' ? { metrics } : {}),
        config: { seeds: ['a', 'b', 'c'], antiEntropyIntervalMs: 0 },
      });
      nodes.push(node);
      cleanup.push(async () => {
        await node.stop();
        await transport.close();
        await storage.close();
      });
    }
    const [a, b, c] = nodes as [KvNode, KvNode, KvNode];
    for (let i = 0; i < 20; i++) await nodes[i % 3]!.put(utf8(`k${i}`), utf8(`v${i}`));
    for (let i = 0; i < 20; i++)
      assert.equal(fromUtf8((await nodes[(i + 1) % 3]!.get(utf8(`k${i}`)))!.value), `v${i}`);
    await b.put(utf8('k3'), undefined, { consistency: 'ALL' });
    assert.equal(await c.get(utf8('k3'), { consistency: 'ONE' }), undefined);
    const seen = new Set<string>();
    let cursor = 0n;
    for (let page = 0; page < 100; page++) {
      const got = await a.scan(cursor, { count: 5 });
      for (const k of got.keys) seen.add(fromUtf8(k));
      cursor = got.cursor;
      if (cursor === 0n) break;
    }
    assert.equal(cursor, 0n);
    assert.equal(seen.size, 19);
    assert.ok(!seen.has('k3'));
    assert.equal(a.status().ring, 'normal');
    assert.equal(a.ring().nodes.length, 3);
    assert.match(
      await metrics.text(),
      /cairn_kv_requests_total\{op="put",level="QUORUM",result="ok",node="a"\} 7/,
    );
  });
});
