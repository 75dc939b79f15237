import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CairnError, decodeUnchecked, ERROR_CODES, encode, v } from '../core/index.js';
import { RpcChannel } from './channel.js';
import { DEFAULT_LIMITS } from './limits.js';
import { encodeMessage } from './messages.js';
import { defineMethod } from './method.js';
import { RpcServer } from './server.js';
import { memoryStreamPair, settle } from './testing.js';
import { Big, Echo, Fail, makePair, rejection, track, Wait } from './testing-fixtures.js';

describe('RpcChannel calls', () => {
  it('answers a call and leaves no timer behind', async () => {
    const { client, clock } = makePair();
    assert.deepEqual(await client.call(Echo, { text: 'hello' }), { text: 'hello' });
    assert.equal(clock.pending, 0);
    assert.equal(client.inFlight, 0);
  });

  it('correlates many concurrent calls whatever order the answers come in (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), async (orderKeys) => {
        const { client, waits, served } = makePair();
        const n = orderKeys.length;
        const calls = orderKeys.map((_, key) => client.call(Wait, { key }));
        await settle();
        assert.equal(waits.size, n);
        // Release the handlers in the order the keys sort to; answers leave in that order.
        const order = orderKeys.map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        for (const [k, key] of order) {
          waits.get(key)!.done.resolve();
          if (k % 3 === 0) await settle(); // some answers in frames of their own, some batched
        }
        const results = await Promise.all(calls);
        for (const [key, r] of results.entries()) assert.equal(r.key, key);
        assert.equal(served.activeHandlers, 0);
        assert.equal(client.inFlight, 0);
      }),
      { numRuns: 60 },
    );
  });

  it('numbers requests 1, 2, 3, ... per channel', async () => {
    const seen: number[] = [];
    const [a, b] = memoryStreamPair();
    const channel = new RpcChannel(a);
    b.onFrame((frame) => {
      const value = decodeUnchecked(frame) as { type: string; id?: number; messages?: { id: number }[] };
      if (value.type === 'batch') for (const m of value.messages ?? []) seen.push(m.id);
      else seen.push(value.id ?? -1);
    });
    const calls = [channel.call(Echo, { text: '1' }), channel.call(Echo, { text: '2' })];
    await settle();
    calls.push(channel.call(Echo, { text: '3' }));
    await settle();
    assert.deepEqual(seen, [1, 2, 3]);
    channel.close();
    for (const call of calls) assert.equal((await rejection(call)).code, 'CLOSED');
  });

  it('lets either side call the other over one stream', async () => {
    const [a, b] = memoryStreamPair();
    const back = new RpcServer();
    back.handle(Echo, (req) => ({ text: `back:${req.text}` }));
    const left = new RpcChannel(a, { methods: back });
    const front = new RpcServer();
    front.handle(Echo, (req) => ({ text: `front:${req.text}` }));
    const right = front.serve(b);
    assert.deepEqual(await left.call(Echo, { text: 'x' }), { text: 'front:x' });
    assert.deepEqual(await right.call(Echo, { text: 'y' }), { text: 'back:y' });
    left.close();
  });
});

describe('RpcChannel errors', () => {
  it('round-trips every error code a handler throws, without details or stack', async () => {
    const { client } = makePair();
    for (const code of ERROR_CODES) {
      const err = await rejection(client.call(Fail, { code, message: `because ${code}` }));
      assert.equal(err.code, code);
      assert.equal(err.message, `because ${code}`);
      assert.deepEqual(err.details, { remote: true, method: 'test.fail', address: 'b:1' });
    }
  });

  it('wraps a foreign error as RPC_REMOTE_ERROR without its message', async () => {
    const { client } = makePair();
    const err = await rejection(client.call(Fail, { code: 'foreign', message: '/etc/shadow' }));
    assert.equal(err.code, 'RPC_REMOTE_ERROR');
    assert.ok(!err.message.includes('shadow'), err.message);
    assert.ok(err.message.includes('TypeError'));
  });

  it('answers an unknown method with RPC_UNKNOWN_METHOD, also on a channel without handlers', async () => {
    const { client } = makePair();
    const Nope = defineMethod('test.nope', v.unknown(), v.unknown());
    assert.equal((await rejection(client.call(Nope, 1))).code, 'RPC_UNKNOWN_METHOD');
    const [a, b] = memoryStreamPair();
    const bare = new RpcChannel(b);
    const caller = new RpcChannel(a);
    assert.equal((await rejection(caller.call(Echo, { text: '' }))).code, 'RPC_UNKNOWN_METHOD');
    bare.close();
  });

  it('answers a request that fails its validator with INVALID_ARGUMENT and keeps serving', async () => {
    const { client, served } = makePair();
    const Loose = defineMethod('test.echo', v.unknown(), v.unknown());
    const err = await rejection(client.call(Loose, { text: 42 }));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /\$\.text/);
    assert.equal(served.stats.handlersStarted, 0);
    assert.deepEqual(await client.call(Echo, { text: 'ok' }), { text: 'ok' });
  });

  it('rejects a response that fails the caller’s validator with DECODE_FAILED', async () => {
    const { client } = makePair();
    const Strict = defineMethod('test.echo', Echo.request, v.object({ text: v.uint() }));
    assert.equal((await rejection(client.call(Strict, { text: 'a' }))).code, 'DECODE_FAILED');
  });

  it('rejects oversized payloads both ways with LIMIT_EXCEEDED', async () => {
    const { client } = makePair({ limits: { maxPayloadBytes: 100 }, serverLimits: { maxPayloadBytes: 100 } });
    assert.equal((await rejection(client.call(Echo, { text: 'x'.repeat(200) }))).code, 'LIMIT_EXCEEDED');
    const err = await rejection(client.call(Big, { size: 500 }));
    assert.equal(err.code, 'LIMIT_EXCEEDED');
    assert.equal(err.details?.remote, true);
  });

  it('rejects bad arguments before sending', async () => {
    const { client } = makePair();
    assert.equal(
      (await rejection(client.call(Echo, { text: '' }, { deadlineMs: -1 }))).code,
      'INVALID_ARGUMENT',
    );
    assert.equal(
      (await rejection(client.call(Echo, { text: '' }, { deadlineMs: 1e12 }))).code,
      'INVALID_ARGUMENT',
    );
    const Long = defineMethod('m'.repeat(200), v.unknown(), v.unknown());
    assert.equal((await rejection(client.call(Long, 1))).code, 'INVALID_ARGUMENT');
    assert.equal(client.stats.framesSent, 0);
  });
});

describe('RpcChannel deadlines and cancellation', () => {
  it('rejects with RPC_DEADLINE_EXCEEDED and aborts the handler at the deadline', async () => {
    const { client, clock, waits, served } = makePair();
    const call = track(client.call(Wait, { key: 1 }, { deadlineMs: 100 }));
    await settle();
    const { ctx } = waits.get(1)!;
    assert.equal(ctx.deadline, clock.now() + 100);
    assert.equal(ctx.remoteAddress, 'a:1');
    clock.advance(99);
    await settle();
    assert.equal(call.settled(), false);
    assert.equal(ctx.signal.aborted, false);
    clock.advance(1);
    const err = await rejection(call.promise);
    assert.equal(err.code, 'RPC_DEADLINE_EXCEEDED');
    assert.ok(ctx.signal.aborted);
    assert.equal((ctx.signal.reason as CairnError).code, 'RPC_DEADLINE_EXCEEDED');
    // The handler finishing later is discarded: its slot frees, nothing more is answered.
    waits.get(1)!.done.resolve();
    await settle();
    assert.equal(served.activeHandlers, 0);
    // The server's own timer fired at the same instant and answered RPC_DEADLINE_EXCEEDED: ignored.
    assert.equal(client.stats.lateAnswers, 1);
    assert.equal(clock.pending, 0);
  });

  it('gives a request that carries no deadline the server’s default, and cancels its handler there', async () => {
    const { client, clientStream, serverClock, waits, served } = makePair({ serverClockStart: 10 });
    // A peer that sends no deadlineMs (the field is optional on the wire).
    const request = { type: 'request', id: 1000, method: 'test.wait', payload: encode({ key: 5 }) } as const;
    clientStream.send(encodeMessage(request));
    await settle();
    const { ctx } = waits.get(5)!;
    const budget = DEFAULT_LIMITS.defaultRequestDeadlineMs;
    assert.equal(ctx.deadline, 10 + budget);
    serverClock.advance(budget - 1);
    await settle();
    assert.equal(ctx.signal.aborted, false);
    serverClock.advance(1);
    await settle();
    assert.equal((ctx.signal.reason as CairnError).code, 'RPC_DEADLINE_EXCEEDED');
    // The slot stays taken until the handler returns, and its late result is discarded.
    assert.equal(served.activeHandlers, 1);
    waits.get(5)!.done.resolve();
    await settle();
    assert.equal(served.activeHandlers, 0);
    // The RPC_DEADLINE_EXCEEDED answer reached the peer, which never made such a call.
    assert.equal(client.stats.lateAnswers, 1);
    assert.equal(serverClock.pending, 0);
  });

  it('refuses a default request deadline over maxDeadlineMs', () => {
    const [a] = memoryStreamPair();
    assert.throws(
      () =>
        new RpcChannel(a, {
          defaultDeadlineMs: 500,
          limits: { maxDeadlineMs: 1000, defaultRequestDeadlineMs: 1001 },
        }),
      /defaultRequestDeadlineMs must be at most maxDeadlineMs/,
    );
  });

  it('propagates the remaining budget, not the caller’s clock reading', async () => {
    const { client, serverClock, waits } = makePair({ serverClockStart: 5 });
    const call = track(client.call(Wait, { key: 7 }, { deadlineMs: 250 }));
    await settle();
    assert.equal(waits.get(7)!.ctx.deadline, 5 + 250);
    // The server's clock runs out first: it answers RPC_DEADLINE_EXCEEDED itself.
    serverClock.advance(250);
    assert.equal((await rejection(call.promise)).code, 'RPC_DEADLINE_EXCEEDED');
    assert.ok(waits.get(7)!.ctx.signal.aborted);
  });

  it('cancels: the call rejects with RPC_CANCELLED, the handler is aborted and its answer dropped', async () => {
    const { client, waits, served } = makePair();
    const controller = new AbortController();
    const call = client.call(Wait, { key: 3 }, { signal: controller.signal });
    await settle();
    controller.abort();
    assert.equal((await rejection(call)).code, 'RPC_CANCELLED');
    await settle();
    const { ctx, done } = waits.get(3)!;
    assert.ok(ctx.signal.aborted);
    assert.equal((ctx.signal.reason as CairnError).code, 'RPC_CANCELLED');
    const sentBefore = served.stats.messagesSent;
    done.resolve();
    await settle();
    assert.equal(served.stats.messagesSent, sentBefore);
    assert.equal(client.stats.lateAnswers, 0);
  });

  it('withdraws a request cancelled before it left, and refuses an already-aborted signal', async () => {
    const { client, served } = makePair();
    const controller = new AbortController();
    const call = client.call(Echo, { text: 'never' }, { signal: controller.signal });
    controller.abort();
    assert.equal((await rejection(call)).code, 'RPC_CANCELLED');
    await settle();
    assert.equal(client.stats.framesSent, 0);
    assert.equal(served.stats.framesReceived, 0);
    assert.equal(
      (await rejection(client.call(Echo, { text: '' }, { signal: controller.signal }))).code,
      'RPC_CANCELLED',
    );
  });

  it('fails a zero budget at once without sending', async () => {
    const { client } = makePair();
    assert.equal(
      (await rejection(client.call(Echo, { text: '' }, { deadlineMs: 0 }))).code,
      'RPC_DEADLINE_EXCEEDED',
    );
    assert.equal(client.stats.framesSent, 0);
  });
});

describe('RpcChannel bounds and batching', () => {
  it('rejects a call over maxInFlightPerChannel at once with RPC_OVERLOADED', async () => {
    const { client, waits } = makePair({ limits: { maxInFlightPerChannel: 3 } });
    const calls = [0, 1, 2].map((key) => client.call(Wait, { key }));
    const over = track(client.call(Wait, { key: 9 }));
    await Promise.resolve();
    assert.equal(over.settled(), true);
    assert.equal((await rejection(over.promise)).code, 'RPC_OVERLOADED');
    assert.equal(client.stats.rejectedInFlight, 1);
    await settle();
    waits.get(0)!.done.resolve();
    await calls[0];
    const again = client.call(Wait, { key: 4 });
    await settle();
    for (const key of [1, 2, 4]) waits.get(key)!.done.resolve();
    assert.deepEqual(await again, { key: 4 });
    await Promise.all(calls);
  });

  it('answers RPC_OVERLOADED past the server’s maxConcurrentHandlers', async () => {
    const { client, waits, served } = makePair({ serverLimits: { maxConcurrentHandlers: 2 } });
    const calls = [0, 1, 2, 3].map((key) =>
      client.call(Wait, { key }).then(
        () => 'ok',
        (err: CairnError) => err.code,
      ),
    );
    await settle();
    assert.equal(served.activeHandlers, 2);
    for (const key of waits.keys()) waits.get(key)!.done.resolve();
    assert.deepEqual(await Promise.all(calls), ['ok', 'ok', 'RPC_OVERLOADED', 'RPC_OVERLOADED']);
    assert.equal(served.stats.rejectedConcurrency, 2);
    assert.equal(served.activeHandlers, 0);
  });

  it('batches N small calls made in one tick into fewer than N frames, both ways', async () => {
    const { client, served } = makePair();
    const n = 100;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => client.call(Echo, { text: `m${i}` })),
    );
    for (const [i, r] of results.entries()) assert.equal(r.text, `m${i}`);
    assert.equal(client.stats.messagesSent, n);
    assert.equal(client.stats.framesSent, 1);
    assert.ok(served.stats.framesSent < n, `server sent ${served.stats.framesSent} frames for ${n} answers`);
  });

  it('cuts batches at maxBatchCount and maxBatchBytes', async () => {
    const { client } = makePair({ limits: { maxBatchCount: 8 } });
    await Promise.all(Array.from({ length: 20 }, () => client.call(Echo, { text: 'x' })));
    assert.equal(client.stats.framesSent, 3);
    const bytes = makePair({ limits: { maxBatchBytes: 1000 } });
    await Promise.all(Array.from({ length: 10 }, () => bytes.client.call(Echo, { text: 'y'.repeat(300) })));
    assert.equal(bytes.client.stats.framesSent, 5); // about 340 bytes each: two per 1000-byte frame
  });
});
