import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/index.js';
import { MemoryRaftLogStore } from '../../raft/node/memory-log-store.js';
import { defaultNodeAddress, MemoryStorage, Simulator } from '../../sim/index.js';
import { isStoreError } from '../errors.js';
import { defaultEngines } from './engines.js';
import { StoreServer } from './store-server.js';

/** Three members on the simulator with the real raft driver, MVCC store and lessor. */
async function cluster(seed: number) {
  const sim = new Simulator({ seed });
  const ids = [1, 2, 3];
  const address = (id: number) => defaultNodeAddress(id - 1);
  const servers = await Promise.all(
    ids.map((id) =>
      StoreServer.start(
        {
          id,
          name: `m${id}`,
          transport: sim.network.transport(address(id)),
          resolve: (peer) => (ids.includes(peer) ? address(peer) : undefined),
          clock: sim.clock,
          rng: sim.rng.child(`m${id}`),
          storage: new MemoryStorage(),
          logStore: new MemoryRaftLogStore(),
          bootstrap: { voters: ids, learners: [] },
          // As the agent does: the shared list has names only; each member knows its own URLs.
          members: ids.map((m) => ({ id: m, name: `m${m}`, peerUrls: [], clientUrls: [], isLearner: false })),
          peerUrls: [`cairn://${address(id)}`],
          clientUrls: [`http://10.0.0.${id}:2379`],
        },
        defaultEngines(),
      ),
    ),
  );
  return { sim, servers };
}

async function run<T>(sim: Simulator, p: Promise<T>, maxMs = 30_000): Promise<T> {
  let done = false;
  const settled = p.finally(() => {
    done = true;
  });
  settled.catch(() => {});
  await sim.runUntil(() => done, { maxMs });
  return settled;
}

describe('StoreServer, 3 members on the simulator', () => {
  it('elects, writes through any member, reads linearizably on a follower and serializably', async () => {
    const seed = 11;
    console.log(`seed=${seed} replay: node --import tsx --test src/store/server/store-server.sim.test.ts`);
    const { sim, servers } = await cluster(seed);
    await sim.runUntil(() => servers.some((s) => s.localStatus().leader !== 0), { maxMs: 10_000 });
    const leaderId = servers[0]!.localStatus().leader;
    assert.ok(leaderId > 0, 'a leader was elected');
    const follower = servers.find((s) => s.id !== leaderId)!;
    const put = await run(sim, follower.put({ key: utf8('k'), value: utf8('v1') }));
    assert.equal(put.header.memberId, follower.id);
    const other = servers.find((s) => s.id !== leaderId && s.id !== follower.id)!;
    const got = await run(sim, other.range({ key: utf8('k') }));
    assert.equal(new TextDecoder().decode(got.kvs[0]?.value), 'v1');
    const cas = await run(
      sim,
      other.txn({
        compare: [{ key: utf8('k'), target: 'value', result: 'equal', value: utf8('v1') }],
        success: [{ put: { key: utf8('k'), value: utf8('v2') } }],
        failure: [],
      }),
    );
    assert.equal(cas.succeeded, true);
    // A read-only txn on the third member, right after the write through another: the read
    // barrier makes it see the write (no log entry of its own).
    const readTxn = await run(
      sim,
      follower.txn({
        compare: [{ key: utf8('k'), target: 'value', result: 'equal', value: utf8('v2') }],
        success: [{ range: { key: utf8('k') } }],
        failure: [],
      }),
    );
    assert.equal(readTxn.succeeded, true, 'the read-only txn saw the txn applied through another member');
    await sim.runFor(1_000);
    for (const s of servers) {
      const r = await run(sim, s.range({ key: utf8('k'), serializable: true }));
      assert.equal(new TextDecoder().decode(r.kvs[0]?.value), 'v2', `member ${s.id} applied the txn`);
    }
    const lease = await run(sim, other.leaseGrant(5));
    const ka = await run(sim, other.leaseKeepAlive(lease.id));
    assert.equal(ka.ttl, 5, 'keep-alive forwarded to the leader');
    await assert.rejects(run(sim, other.leaseRevoke(lease.id + 1)), (e) => isStoreError(e, 'leaseNotFound'));
    const members = await run(sim, other.memberList());
    assert.deepEqual(
      members.members.map((m) => m.name),
      ['m1', 'm2', 'm3'],
    );
    await sim.runFor(1_000);
    const published = await run(sim, other.memberList());
    assert.deepEqual(
      published.members.map((m) => [m.peerUrls, m.clientUrls]),
      [1, 2, 3].map((id) => [[`cairn://${defaultNodeAddress(id - 1)}`], [`http://10.0.0.${id}:2379`]]),
      'each member published its own URLs',
    );
    for (const s of servers) await s.stop();
  });
});
