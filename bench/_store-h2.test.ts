import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/proto-loader';
import { type EtcdServer, serveEtcd } from '../src/store/etcd/server.js';
import { TestingStore } from '../src/store/etcd/testing-store.js';
import { encodePutRequest, encodeRangeRequest, etcdPackageDefinition } from './_store-grpc.js';
import { GrpcCallError, H2KvClient } from './_store-h2.js';

const kv = etcdPackageDefinition()['etcdserverpb.KV'] as unknown as Record<
  string,
  MethodDefinition<object, object>
>;

interface RangeResponse {
  kvs?: { key: Buffer; value: Buffer }[];
}

describe('store bench: the HTTP/2 load client', () => {
  let server: EtcdServer;
  let client: H2KvClient;
  before(async () => {
    server = await serveEtcd({ store: new TestingStore(), host: '127.0.0.1', port: 0 });
    client = new H2KvClient(`http://${server.endpoint}`);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it('puts and reads back a key, serializable and linearizable', async () => {
    const key = Buffer.from('bench/1');
    await client.put(encodePutRequest(key, Buffer.from('v1')), 5_000);
    for (const serializable of [false, true]) {
      const bytes = await client.range(encodeRangeRequest(key, serializable), 5_000);
      const res = kv.Range!.responseDeserialize(bytes) as RangeResponse;
      assert.equal(res.kvs?.length, 1);
      assert.equal(res.kvs[0]!.value.toString(), 'v1');
    }
  });

  it('runs many calls at once over one connection', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => Buffer.from(`bench/many/${i}`));
    await Promise.all(keys.map((k) => client.put(encodePutRequest(k, k), 5_000)));
    const got = await Promise.all(keys.map((k) => client.range(encodeRangeRequest(k, true), 5_000)));
    got.forEach((bytes, i) => {
      const res = kv.Range!.responseDeserialize(bytes) as RangeResponse;
      assert.deepEqual(res.kvs?.[0]?.value, keys[i]);
    });
  });

  it("rejects with the server's status and message", async () => {
    await assert.rejects(client.range(encodeRangeRequest(Buffer.alloc(0), false), 5_000), (err) => {
      assert.ok(err instanceof GrpcCallError);
      assert.equal(err.code, 3);
      assert.match(err.message, /etcdserver: key is not provided/);
      return true;
    });
  });

  it('rejects with UNAVAILABLE when nothing listens, and works again on a live endpoint', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const dead = new H2KvClient(`127.0.0.1:${port}`);
    await assert.rejects(dead.range(encodeRangeRequest(Buffer.from('k'), true), 5_000), (err) => {
      assert.ok(err instanceof GrpcCallError);
      assert.equal(err.code, 14);
      return true;
    });
    dead.close();
    await client.range(encodeRangeRequest(Buffer.from('bench/1'), true), 5_000);
  });

  it('rejects with DEADLINE_EXCEEDED when the server never answers', async () => {
    const silent = http2.createServer();
    silent.on('stream', () => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const c = new H2KvClient(`127.0.0.1:${(silent.address() as { port: number }).port}`);
    await assert.rejects(c.range(encodeRangeRequest(Buffer.from('k'), true), 20), (err) => {
      assert.ok(err instanceof GrpcCallError);
      assert.equal(err.code, 4);
      return true;
    });
    c.close();
    await new Promise((resolve) => silent.close(resolve));
  });
});
