/**
 * The rpc channel over real TCP on 127.0.0.1 (ephemeral ports): calls, batching, typed errors,
 * deadlines and cancellation reaching the server's handler, connection loss and redial.
 *
 * Run: node --import tsx --test test/system/rpc-net.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CairnError, type Deferred, deferred, Rng, v } from '../../src/core/index.js';
import {
  defineMethod,
  type HandlerContext,
  type RpcChannel,
  RpcClient,
  RpcServer,
} from '../../src/rpc/index.js';
import { NetTransport } from '../../src/transport/net/net-transport.js';
import { deadAddress } from '../contract/helpers.js';

const Echo = defineMethod(
  'echo',
  v.object({ text: v.string({ maxLength: 100_000 }) }),
  v.object({ text: v.string() }),
);
const Fail = defineMethod('fail', v.object({ code: v.string() }), v.unknown());
/** Never answers on its own: resolves with how the signal was aborted. */
const Hang = defineMethod('hang', v.object({ tag: v.string() }), v.unknown());
const Whoami = defineMethod('whoami', v.object({}), v.object({ name: v.string() }));

async function rejection(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('rpc over NetTransport (127.0.0.1)', () => {
  let a: NetTransport;
  let b: NetTransport;
  let server: RpcServer;
  let client: RpcClient;
  const served: RpcChannel[] = [];
  /** Handler contexts of `hang`, by tag, resolved when the handler starts. */
  const hanging = new Map<string, Deferred<HandlerContext>>();
  const hangStarted = (tag: string) => {
    let d = hanging.get(tag);
    if (d === undefined) {
      d = deferred<HandlerContext>();
      hanging.set(tag, d);
    }
    return d;
  };

  before(async () => {
    a = await NetTransport.create({ host: '127.0.0.1', port: 0 });
    b = await NetTransport.create({ host: '127.0.0.1', port: 0 });
    server = new RpcServer({ onChannel: (channel) => served.push(channel) });
    server.handle(Echo, (req) => ({ text: req.text }));
    server.handle(Fail, (req) => {
      throw new CairnError(
        req.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INTERNAL',
        `failed on purpose: ${req.code}`,
      );
    });
    server.handle(Hang, (req, ctx) => {
      hangStarted(req.tag).resolve(ctx);
      return new Promise((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(null), { once: true }),
      );
    });
    server.listen(b);
    const back = new RpcServer();
    back.handle(Whoami, () => ({ name: 'the client' }));
    client = new RpcClient(a, { methods: back, rng: Rng.fromSeed(1) });
  });

  after(async () => {
    await client.close();
    server.close();
    await a.close();
    await b.close();
  });

  it('answers calls and reuses one stream for them', async () => {
    assert.deepEqual(await client.call(b.localAddress, Echo, { text: 'hello' }), { text: 'hello' });
    const channel = await client.channel(b.localAddress);
    assert.deepEqual(await client.call(b.localAddress, Echo, { text: 'again' }), { text: 'again' });
    assert.equal(await client.channel(b.localAddress), channel);
    assert.equal(client.size, 1);
  });

  it('correlates 250 concurrent calls and batches them into far fewer frames', async (t) => {
    const channel = await client.channel(b.localAddress);
    const framesBefore = channel.stats.framesSent;
    const n = 250;
    const texts = Array.from({ length: n }, (_, i) => `call ${i} ${'x'.repeat(i % 37)}`);
    const results = await Promise.all(texts.map((text) => client.call(b.localAddress, Echo, { text })));
    assert.deepEqual(
      results.map((r) => r.text),
      texts,
    );
    const frames = channel.stats.framesSent - framesBefore;
    t.diagnostic(`${n} calls: ${frames} request frames`);
    assert.ok(frames < n / 10, `${n} calls took ${frames} frames`);
  });

  it('carries typed errors and unknown methods', async () => {
    const err = await rejection(client.call(b.localAddress, Fail, { code: 'NOT_FOUND' }));
    assert.equal(err.code, 'NOT_FOUND');
    assert.equal(err.message, 'failed on purpose: NOT_FOUND');
    const Missing = defineMethod('missing', v.unknown(), v.unknown());
    assert.equal((await rejection(client.call(b.localAddress, Missing, null))).code, 'RPC_UNKNOWN_METHOD');
    const Bad = defineMethod('echo', v.unknown(), v.unknown());
    assert.equal((await rejection(client.call(b.localAddress, Bad, { text: 1 }))).code, 'INVALID_ARGUMENT');
  });

  it('rejects at the deadline and aborts the handler on the server', async () => {
    const call = client.call(b.localAddress, Hang, { tag: 'deadline' }, { deadlineMs: 200 });
    const ctx = await hangStarted('deadline').promise;
    assert.ok(ctx.deadline !== undefined);
    assert.equal((await rejection(call)).code, 'RPC_DEADLINE_EXCEEDED');
    if (!ctx.signal.aborted)
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    assert.ok(['RPC_DEADLINE_EXCEEDED', 'RPC_CANCELLED'].includes((ctx.signal.reason as CairnError).code));
  });

  it('cancels: the call rejects at once and the server handler is aborted', async () => {
    const controller = new AbortController();
    const call = client.call(b.localAddress, Hang, { tag: 'cancel' }, { signal: controller.signal });
    const ctx = await hangStarted('cancel').promise;
    controller.abort();
    assert.equal((await rejection(call)).code, 'RPC_CANCELLED');
    if (!ctx.signal.aborted)
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    assert.equal((ctx.signal.reason as CairnError).code, 'RPC_CANCELLED');
  });

  it('lets the server call the client back over the same stream', async () => {
    await client.call(b.localAddress, Echo, { text: 'open' });
    const channel = served.find((c) => c.open);
    assert.ok(channel !== undefined);
    assert.deepEqual(await channel.call(Whoami, {}), { name: 'the client' });
  });

  it('rejects pending calls with RPC_CONNECTION_LOST when the stream drops, then redials', async () => {
    const call = client.call(b.localAddress, Hang, { tag: 'lost' });
    const ctx = await hangStarted('lost').promise;
    for (const channel of server.channels) channel.stream.destroy(new Error('cut by the test'));
    assert.equal((await rejection(call)).code, 'RPC_CONNECTION_LOST');
    assert.ok(ctx.signal.aborted);
    assert.deepEqual(await client.call(b.localAddress, Echo, { text: 'back' }), { text: 'back' });
  });

  it('fails a call to an address where nothing listens with TRANSPORT_UNREACHABLE', async () => {
    const dead = await deadAddress();
    assert.equal((await rejection(client.call(dead, Echo, { text: 'x' }))).code, 'TRANSPORT_UNREACHABLE');
  });
});
