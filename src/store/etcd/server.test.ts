import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ManualClock } from '../../core/manual-clock.js';
import { attenuate, formatToken, mintToken } from '../../security/token.js';
import { EtcdClientStore } from '../client/etcd-client-store.js';
import { isStoreError } from '../errors.js';
import { etcdMethod, etcdPackageDefinition } from './proto.js';
import { type EtcdServer, serveEtcd } from './server.js';
import { TestingStore } from './testing-store.js';

const enc = new TextEncoder();

/** A raw unary call with bytes in and out, to send what no well-behaved client would. */
function raw(client: grpc.Client, path: string, bytes: Buffer): Promise<grpc.ServiceError | Buffer> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err, res) => resolve(err ?? (res as Buffer)),
    );
  });
}

function isError(x: grpc.ServiceError | Buffer): x is grpc.ServiceError {
  return !(x instanceof Buffer);
}

describe('etcd API server: hostile and malformed input', () => {
  let store: TestingStore;
  let server: EtcdServer;
  let client: grpc.Client;
  before(async () => {
    store = new TestingStore();
    server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    client = new grpc.Client(server.endpoint, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
  });
  const rangeBytes = (req: object) => etcdMethod('KV', 'Range').requestSerialize(req);

  it('answers an unknown field with INVALID_ARGUMENT naming it', async () => {
    // key = "a", then field 99 (varint) which RangeRequest does not declare.
    const bytes = Buffer.concat([rangeBytes({ key: Buffer.from('a') }), Buffer.from([0x98, 0x06, 0x01])]);
    const res = await raw(client, '/etcdserverpb.KV/Range', bytes);
    assert.ok(isError(res));
    assert.equal(res.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(res.details, 'etcdserver: invalid argument: unknown field 99 in etcdserverpb.RangeRequest');
  });

  it('answers an unknown field inside a nested txn op too', async () => {
    const txn = etcdMethod('KV', 'Txn').requestSerialize({
      success: [{ request_put: { key: Buffer.from('k'), value: Buffer.from('v') } }],
    });
    // Append field 50 (length-delimited, empty) inside... the outer message: TxnRequest has no 50.
    const res = await raw(
      client,
      '/etcdserverpb.KV/Txn',
      Buffer.concat([txn, Buffer.from([0x92, 0x03, 0x00])]),
    );
    assert.ok(isError(res));
    assert.match(res.details, /unknown field 50 in etcdserverpb\.TxnRequest/);
  });

  it('answers malformed bytes with the gRPC unmarshalling error and keeps serving', async () => {
    const res = await raw(client, '/etcdserverpb.KV/Range', Buffer.from([0x0a, 0x05, 0x61]));
    assert.ok(isError(res));
    assert.equal(res.code, grpc.status.INTERNAL);
    assert.match(res.details, /^grpc: error unmarshalling request/);
    const ok = await raw(client, '/etcdserverpb.KV/Range', rangeBytes({ key: Buffer.from('a') }));
    assert.ok(!isError(ok));
  });

  it('refuses a request over maxRequestBytes with etcd’s requestTooLarge', async () => {
    const put = etcdMethod('KV', 'Put').requestSerialize({
      key: Buffer.from('big'),
      value: Buffer.alloc(1.6 * 1024 * 1024),
    });
    const res = await raw(client, '/etcdserverpb.KV/Put', put);
    assert.ok(isError(res));
    assert.equal(res.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(res.details, 'etcdserver: request is too large');
    const huge = etcdMethod('KV', 'Put').requestSerialize({
      key: Buffer.from('big'),
      value: Buffer.alloc(3 * 1024 * 1024),
    });
    const res2 = await raw(client, '/etcdserverpb.KV/Put', huge);
    assert.ok(isError(res2));
    assert.equal(res2.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('refuses int64 values beyond 2^53-1 instead of rounding them', async () => {
    const res = await raw(
      client,
      '/etcdserverpb.KV/Range',
      rangeBytes({ key: Buffer.from('a'), revision: '1152921504606846976' }),
    );
    assert.ok(isError(res));
    assert.equal(res.code, grpc.status.INVALID_ARGUMENT);
    assert.match(
      res.details,
      /^etcdserver: invalid argument: revision 1152921504606846976 is beyond 2\^53-1/,
    );
  });

  it('answers an empty key with emptyKey and too many txn ops with tooManyOps', async () => {
    const res = await raw(
      client,
      '/etcdserverpb.KV/Put',
      etcdMethod('KV', 'Put').requestSerialize({ value: Buffer.from('v') }),
    );
    assert.ok(isError(res));
    assert.equal(res.details, 'etcdserver: key is not provided');
    const ops = Array.from({ length: 129 }, (_, i) => ({ request_put: { key: Buffer.from(`k${i}`) } }));
    const txn = await raw(
      client,
      '/etcdserverpb.KV/Txn',
      etcdMethod('KV', 'Txn').requestSerialize({ success: ops }),
    );
    assert.ok(isError(txn));
    assert.equal(txn.details, 'etcdserver: too many operations in txn request');
  });
});

/** A grpc-js Watch client of the server at `endpoint`. */
function watchClient(endpoint: string) {
  const pkg = grpc.loadPackageDefinition(etcdPackageDefinition()) as unknown as {
    etcdserverpb: {
      Watch: new (
        addr: string,
        creds: grpc.ChannelCredentials,
      ) => grpc.Client & { Watch(): grpc.ClientDuplexStream<object, Record<string, unknown>> };
    };
  };
  return new pkg.etcdserverpb.Watch(endpoint, grpc.credentials.createInsecure());
}

describe('etcd API server: watch streams', () => {
  it('numbers watches per stream, answers created first and cancel with canceled', async () => {
    const store = new TestingStore();
    const server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    const client = watchClient(server.endpoint);
    const stream = client.Watch();
    const got: Record<string, unknown>[] = [];
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (got.length >= n ? resolve() : stream.once('data', () => setImmediate(check)));
        check();
      });
    stream.on('data', (r: Record<string, unknown>) => got.push(r));
    // Closing the client below cancels the stream; that error is expected.
    stream.on('error', () => {});
    stream.write({ create_request: { key: Buffer.from('a') } });
    stream.write({ create_request: { key: Buffer.from('b') } });
    await waitFor(2);
    assert.deepEqual(
      got.map((r) => [r.watch_id, r.created]),
      [
        ['0', true],
        ['1', true],
      ],
    );
    await store.put({ key: enc.encode('b'), value: enc.encode('1') });
    await waitFor(3);
    assert.equal(got[2]!.watch_id, '1');
    assert.equal((got[2]!.events as unknown[]).length, 1);
    stream.write({ cancel_request: { watch_id: 1 } });
    await waitFor(4);
    assert.equal(got[3]!.watch_id, '1');
    assert.equal(got[3]!.canceled, true);
    stream.end();
    client.close();
    await server.close();
  });
});

describe('etcd API server: watch progress requests', () => {
  it('answers a progress request once per stream with watch id -1 and the current revision', async () => {
    const store = new TestingStore();
    const server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    const client = watchClient(server.endpoint);
    const stream = client.Watch();
    const got: Record<string, unknown>[] = [];
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (got.length >= n ? resolve() : stream.once('data', () => setImmediate(check)));
        check();
      });
    stream.on('data', (r: Record<string, unknown>) => got.push(r));
    stream.on('error', () => {});
    // With no watch at all, etcd 3.4 still answers.
    stream.write({ progress_request: {} });
    await waitFor(1);
    assert.equal(got[0]!.watch_id, '-1');
    assert.deepEqual(got[0]!.events, []);
    await store.put({ key: enc.encode('x'), value: enc.encode('1') });
    await store.put({ key: enc.encode('x'), value: enc.encode('2') });
    stream.write({ create_request: { key: Buffer.from('a') } });
    stream.write({ create_request: { key: Buffer.from('b') } });
    await waitFor(3);
    stream.write({ progress_request: {} });
    await waitFor(4);
    const current = (await store.range({ key: enc.encode('x') })).header.revision;
    const progress = got[3]!;
    assert.equal(progress.watch_id, '-1');
    assert.equal(progress.created, false);
    assert.equal((progress.header as { revision: string }).revision, String(current));
    // Nothing else follows for the two watches: a put on `a` is the next response.
    await store.put({ key: enc.encode('a'), value: enc.encode('1') });
    await waitFor(5);
    assert.equal(got.length, 5);
    assert.equal(got[4]!.watch_id, '0');
    assert.equal((got[4]!.events as unknown[]).length, 1);
    stream.end();
    client.close();
    await server.close();
  });
});

describe('etcd API server: capability tokens', () => {
  const rootKey = new Uint8Array(32).fill(7);
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  let server: EtcdServer;
  const clients: EtcdClientStore[] = [];
  const full = formatToken(mintToken(rootKey));
  const readOnly = formatToken(attenuate(mintToken(rootKey), [{ type: 'ops', ops: ['store:read'] }]));
  const app1 = formatToken(
    attenuate(mintToken(rootKey), [
      { type: 'prefix', prefix: 'app1/' },
      { type: 'ops', ops: ['store:read', 'store:write'] },
    ]),
  );
  const connect = (password?: string) => {
    const c = new EtcdClientStore({
      hosts: [server.endpoint],
      ...(password === undefined ? {} : { auth: { username: 'cairn', password } }),
    });
    clients.push(c);
    return c;
  };
  const denied = (name: Parameters<typeof isStoreError>[1]) => (err: unknown) => {
    assert.ok(isStoreError(err, name), `expected ${String(name)}, got ${String(err)}`);
    return true;
  };
  before(async () => {
    server = await serveEtcd({
      store: new TestingStore({ clock }),
      host: '127.0.0.1',
      port: 0,
      auth: { rootKeys: [rootKey], clock },
    });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
  });

  it('refuses a call without a token with userEmpty, a forged one at authenticate', async () => {
    await assert.rejects(connect().range({ key: enc.encode('x') }), denied('userEmpty'));
    const forged = formatToken(mintToken(new Uint8Array(32).fill(9)));
    await assert.rejects(connect(forged).range({ key: enc.encode('x') }), denied('authFailed'));
  });

  it('lets a full token do everything', async () => {
    const c = connect(full);
    await c.put({ key: enc.encode('x'), value: enc.encode('1') });
    assert.equal((await c.range({ key: enc.encode('x') })).count, 1);
    await c.compact({ revision: 2 });
  });

  it('keeps a read-only token to reads', async () => {
    const c = connect(readOnly);
    assert.equal((await c.range({ key: enc.encode('x') })).count, 1);
    await c.status();
    await c.memberList();
    await assert.rejects(c.put({ key: enc.encode('x'), value: enc.encode('2') }), denied('permissionDenied'));
    await assert.rejects(c.leaseGrant(10), denied('permissionDenied'));
    await assert.rejects(c.compact({ revision: 2 }), denied('permissionDenied'));
  });

  it('keeps a prefix token inside its prefix: keys, ranges, txns, watches; no admin calls', async () => {
    const c = connect(app1);
    await c.put({ key: enc.encode('app1/a'), value: enc.encode('1') });
    assert.equal((await c.range({ key: enc.encode('app1/'), rangeEnd: enc.encode('app10') })).count, 1);
    await assert.rejects(
      c.put({ key: enc.encode('app2/a'), value: enc.encode('1') }),
      denied('permissionDenied'),
    );
    await assert.rejects(
      c.range({ key: enc.encode('app1/'), rangeEnd: Uint8Array.of(0) }),
      denied('permissionDenied'),
    );
    await assert.rejects(
      c.range({ key: enc.encode('app1/'), rangeEnd: enc.encode('app2') }),
      denied('permissionDenied'),
    );
    await assert.rejects(
      c.txn({
        compare: [{ key: enc.encode('other'), target: 'version', result: 'equal', value: 0 }],
        success: [{ put: { key: enc.encode('app1/b'), value: enc.encode('1') } }],
        failure: [],
      }),
      denied('permissionDenied'),
    );
    await assert.rejects(
      c.watch({ key: enc.encode('app2/') }, () => {}),
      denied('permissionDenied'),
    );
    const w = await c.watch({ key: enc.encode('app1/a') }, () => {});
    await w.cancel();
    const lease = await c.leaseGrant(10);
    await c.leaseRevoke(lease.id);
    await assert.rejects(c.compact({ revision: 3 }), denied('permissionDenied'));
  });

  it('refuses a token once it expires', async () => {
    const soon = formatToken(
      mintToken(rootKey, { caveats: [{ type: 'expires', atMs: clock.now() + 1000 }] }),
    );
    const c = connect(soon);
    await c.range({ key: enc.encode('x') });
    clock.advance(2000);
    await assert.rejects(c.range({ key: enc.encode('x') }), (err: unknown) => isStoreError(err));
  });
});

describe('etcd API server: a slow watcher', () => {
  it('pauses the store’s watch while the stream is blocked and catches up after drain, in order', async () => {
    const store = new TestingStore();
    // Count the resumes the server asks of the store's watch: each follows a pause.
    let resumes = 0;
    const watch = store.watch.bind(store);
    store.watch = async (req, onResponse) => {
      const w = await watch(req, onResponse);
      const resume = w.resume.bind(w);
      w.resume = () => {
        resumes++;
        resume();
      };
      return w;
    };
    const server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
    const client = watchClient(server.endpoint);
    const stream = client.Watch();
    stream.on('error', () => {});
    const revisions: number[] = [];
    let created = false;
    let wake: (() => void) | undefined;
    stream.on('data', (r: Record<string, unknown>) => {
      if (r.created === true) created = true;
      for (const e of (r.events as { kv: { mod_revision: string } }[]) ?? [])
        revisions.push(Number(e.kv.mod_revision));
      wake?.();
    });
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise<void>((r) => (wake = r));
    };
    stream.write({ create_request: { key: Buffer.from('w/'), range_end: Buffer.from('w0') } });
    await until(() => created);
    // Stop reading: HTTP/2 flow control fills and the server's writes report a full buffer.
    stream.pause();
    const value = new Uint8Array(64 * 1024).fill(1);
    const first = (await store.put({ key: enc.encode('w/0'), value })).header.revision;
    for (let i = 1; i < 200; i++) await store.put({ key: enc.encode(`w/${i}`), value });
    stream.resume();
    await until(() => revisions.length >= 200);
    assert.deepEqual(
      revisions,
      Array.from({ length: 200 }, (_, i) => first + i),
    );
    assert.ok(resumes > 0, 'the store watch was never paused and resumed');
    stream.end();
    client.close();
    await server.close();
  });
});
