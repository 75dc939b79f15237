import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { utf8 } from '../../core/index.js';
import type { StoreServer } from '../server/store-server.js';
import { startSingleMemberStore } from '../server/testing.js';
import { etcdMethod } from './proto.js';
import { type EtcdServer, serveEtcd } from './server.js';
import { TestingStore } from './testing-store.js';

/**
 * The Maintenance and Cluster calls etcd tools use, through gRPC against a one-member
 * StoreServer: what etcdctl receives. Run: node --import tsx --test src/store/etcd/maintenance-service.test.ts
 */

type Reply = { err: grpc.ServiceError | undefined; res: Record<string, unknown> };

function call(client: grpc.Client, service: string, method: string, req: object): Promise<Reply> {
  const m = etcdMethod(service, method);
  return new Promise((resolve) => {
    client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (err, res) =>
      resolve({ err: err ?? undefined, res: (res ?? {}) as Record<string, unknown> }),
    );
  });
}

function snapshot(
  client: grpc.Client,
): Promise<{ chunks: Record<string, unknown>[]; err?: grpc.ServiceError }> {
  const m = etcdMethod('Maintenance', 'Snapshot');
  return new Promise((resolve) => {
    const chunks: Record<string, unknown>[] = [];
    const stream = client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, {});
    stream.on('data', (c: Record<string, unknown>) => chunks.push(c));
    stream.on('error', (err: grpc.ServiceError) => resolve({ chunks, err }));
    stream.on('end', () => resolve({ chunks }));
  });
}

describe('etcd API: maintenance and member update over a one-member store', () => {
  let store: StoreServer;
  let server: EtcdServer;
  let client: grpc.Client;
  before(async () => {
    store = await startSingleMemberStore();
    server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    client = new grpc.Client(server.endpoint, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
    await store.stop();
  });

  it('HashKV and Hash answer a hash that changes with writes and stays for a past revision', async () => {
    await store.put({ key: utf8('h/a'), value: utf8('1') });
    const first = await call(client, 'Maintenance', 'HashKV', { revision: 0 });
    assert.equal(first.err, undefined);
    const rev = Number((first.res.header as { revision: string }).revision);
    await store.put({ key: utf8('h/a'), value: utf8('2') });
    const now = await call(client, 'Maintenance', 'HashKV', { revision: 0 });
    const past = await call(client, 'Maintenance', 'HashKV', { revision: rev });
    assert.notEqual(now.res.hash, first.res.hash);
    assert.equal(past.res.hash, first.res.hash);
    const whole = await call(client, 'Maintenance', 'Hash', {});
    assert.equal(whole.res.hash, now.res.hash);
    const future = await call(client, 'Maintenance', 'HashKV', { revision: rev + 100 });
    assert.equal(future.err?.code, grpc.status.OUT_OF_RANGE);
    assert.equal(future.err?.details, 'etcdserver: mvcc: required revision is a future revision');
  });

  it('MoveLeader: to itself succeeds, to a stranger is a bad transferee', async () => {
    const self = await call(client, 'Maintenance', 'MoveLeader', { targetID: store.id });
    assert.equal(self.err, undefined);
    const bad = await call(client, 'Maintenance', 'MoveLeader', { targetID: 77 });
    assert.equal(bad.err?.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(bad.err?.details, 'etcdserver: bad leader transferee');
  });

  it('Defragment succeeds; Alarm lists none, deactivates none, refuses to activate', async () => {
    assert.equal((await call(client, 'Maintenance', 'Defragment', {})).err, undefined);
    const list = await call(client, 'Maintenance', 'Alarm', { action: 'Get' });
    assert.deepEqual(list.res.alarms, []);
    const off = await call(client, 'Maintenance', 'Alarm', { action: 'Deactivate', alarm: 'Nospace' });
    assert.equal(off.err, undefined);
    const on = await call(client, 'Maintenance', 'Alarm', { action: 'Activate', alarm: 'Nospace' });
    assert.equal(on.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(on.err?.details ?? '', /no space quota/);
  });

  it('Snapshot streams the image (512-aligned) in 32 KiB chunks with remaining bytes, then its SHA-256', async () => {
    const big = new Uint8Array(40_000).fill(7);
    for (let i = 0; i < 3; i++) await store.put({ key: utf8(`s/${i}`), value: big });
    const { chunks, err } = await snapshot(client);
    assert.equal(err, undefined);
    assert.ok(chunks.length >= 5, `${chunks.length} messages`);
    const data = chunks.slice(0, -1).map((c) => c.blob as Buffer);
    const image = Buffer.concat(data);
    let left = image.length;
    for (const [i, b] of data.entries()) {
      assert.ok(b.length <= 32 * 1024);
      left -= b.length;
      assert.equal(Number(chunks[i]!.remaining_bytes), left);
    }
    const trailer = chunks[chunks.length - 1]!;
    assert.equal(Number(trailer.remaining_bytes), 0);
    assert.deepEqual(trailer.blob, createHash('sha256').update(image).digest());
    const expected = Buffer.from(await store.applier.snapshot());
    assert.equal(image.length % 512, 0, 'padded to 512 bytes, as etcdctl requires');
    assert.ok(image.subarray(0, expected.length).equals(expected), 'the member’s image');
    assert.ok(
      image.subarray(expected.length).every((b) => b === 0),
      'then zero bytes',
    );
  });

  it('MemberUpdate replaces the peer URLs; bad URLs and unknown ids get etcd’s errors', async () => {
    const ok = await call(client, 'Cluster', 'MemberUpdate', {
      ID: store.id,
      peerURLs: ['http://127.0.0.1:12380'],
    });
    assert.equal(ok.err, undefined);
    const members = ok.res.members as { peerURLs: string[] }[];
    assert.deepEqual(members[0]!.peerURLs, ['http://127.0.0.1:12380']);
    const bad = await call(client, 'Cluster', 'MemberUpdate', { ID: store.id, peerURLs: ['::nope'] });
    assert.equal(bad.err?.details, 'etcdserver: given member URLs are invalid');
    const none = await call(client, 'Cluster', 'MemberUpdate', { ID: 4242, peerURLs: ['http://a:1'] });
    assert.equal(none.err?.code, grpc.status.NOT_FOUND);
    assert.equal(none.err?.details, 'etcdserver: member not found');
  });

  it('user and role management is UNIMPLEMENTED with a pointer to capability tokens', async () => {
    const r = await call(client, 'Auth', 'UserAdd', { name: 'root', password: 'x' });
    assert.equal(r.err?.code, grpc.status.UNIMPLEMENTED);
    assert.match(
      r.err?.details ?? '',
      /^etcdserver: auth UserAdd is not supported by Cairn: .*cairn token mint/,
    );
  });
});

describe('etcd API: a store without the optional maintenance calls', () => {
  it('answers them UNIMPLEMENTED, naming the call', async () => {
    const store = new TestingStore();
    const server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    const client = new grpc.Client(server.endpoint, grpc.credentials.createInsecure());
    try {
      const r = await call(client, 'Maintenance', 'HashKV', { revision: 0 });
      assert.equal(r.err?.code, grpc.status.UNIMPLEMENTED);
      assert.match(r.err?.details ?? '', /hashKV is not supported/);
      const s = await snapshot(client);
      assert.equal(s.err?.code, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
      await server.close();
    }
  });
});
