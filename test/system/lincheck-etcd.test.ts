import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { type EtcdCluster, etcdVersion, startEtcdCluster } from '../../bench/_etcd.js';
import { Rng } from '../../src/core/rng.js';
import { checkHistory, HistoryRecorder, type KvInput, type KvOutput, kvModel } from '../../src/lab/index.js';

// Records a concurrent history against a real 3-member etcd (when the binary is installed) and
// checks it: the checker must accept what a linearizable store produces, with revisions as etcd
// reports them. Shows how store tests record. Replay: LINCHECK_SEED=<seed> node --import tsx
// --test test/system/lincheck-etcd.test.ts
const seed = process.env.LINCHECK_SEED ?? String(Date.now() % 2 ** 31);
const skip = etcdVersion() === undefined ? 'etcd binary not in PATH' : false;

/** Runs one random operation through etcd3 and returns its recorded output. */
async function runOne(client: Etcd3, input: KvInput): Promise<KvOutput> {
  switch (input.type) {
    case 'put': {
      const r = await client.put(input.key).value(input.value).exec();
      return { type: 'put', revision: Number(r.header.revision) };
    }
    case 'get': {
      const r = await client.get(input.key).exec();
      const kv = r.kvs[0];
      return kv === undefined
        ? { type: 'get', value: null }
        : { type: 'get', value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
    }
    case 'delete': {
      const r = await client.delete().key(input.key).exec();
      const deleted = Number(r.deleted);
      return deleted === 0
        ? { type: 'delete', deleted }
        : { type: 'delete', deleted, revision: Number(r.header.revision) };
    }
    case 'cas': {
      const c = input.compare;
      const guard =
        'value' in c
          ? client.if(input.key, 'Value', '==', c.value)
          : client.if(input.key, 'Mod', '==', c.modRevision);
      const r = await guard.then(client.put(input.key).value(input.value)).commit();
      return r.succeeded
        ? { type: 'cas', succeeded: true, revision: Number(r.header.revision) }
        : { type: 'cas', succeeded: false };
    }
  }
}

describe(`linearizability of a real etcd's history (seed=${seed})`, { skip }, () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startEtcdCluster(3);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('accepts 5 concurrent clients over 3 keys, and rejects it with one read corrupted', async () => {
    const recorder = new HistoryRecorder<KvInput, KvOutput>();
    const rng = Rng.fromSeed(seed);
    const lastSeen = new Map<string, number>();
    const clients = Array.from({ length: 5 }, () => new Etcd3({ hosts: cluster.endpoints }));
    const prefix = `lincheck-${seed}/`;
    await Promise.all(
      clients.map(async (client, c) => {
        const r = rng.child(`client-${c}`);
        for (let i = 0; i < 40; i++) {
          const key = `${prefix}${r.int(3)}`;
          const value = `c${c}-${i}`;
          const roll = r.int(10);
          const input: KvInput =
            roll < 3
              ? { type: 'put', key, value }
              : roll < 7
                ? { type: 'get', key }
                : roll < 8
                  ? { type: 'delete', key }
                  : roll < 9
                    ? { type: 'cas', key, compare: { value: `c${r.int(5)}-${r.int(i + 1)}` }, value }
                    : { type: 'cas', key, compare: { modRevision: lastSeen.get(key) ?? 0 }, value };
          const out = await recorder.record(c, input, () => runOne(client, input));
          if (out.type === 'get') lastSeen.set(key, out.modRevision ?? 0);
        }
      }),
    );
    for (const client of clients) client.close();
    const ops = recorder.operations();
    const r = checkHistory(kvModel, ops);
    assert.equal(r.kind, 'ok', r.kind === 'illegal' ? r.report : r.kind);

    // Corrupt one read that follows a completed put of its key: it now returns a value nobody wrote.
    const lastGet = [...ops]
      .reverse()
      .find(
        (op) =>
          op.input.type === 'get' &&
          ops.some((w) => w.input.key === op.input.key && w.input.type === 'put' && w.ret < op.call),
      );
    assert.ok(lastGet !== undefined, 'no get after a put: a different seed will do');
    const firstPut = ops.find((op) => op.input.key === lastGet.input.key && op.input.type === 'put')!;
    const wrong: KvOutput = {
      type: 'get',
      value: `${(firstPut.input as { value: string }).value}-never-written`,
    };
    const bad = checkHistory(
      kvModel,
      ops.map((op) => (op === lastGet ? { ...op, output: wrong } : op)),
    );
    assert.equal(bad.kind, 'illegal');
  });
});
