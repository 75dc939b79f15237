import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CairnError, encode } from '../core/index.js';
import { encodeMessage } from './messages.js';
import { settle } from './testing.js';
import { Echo, makePair, rejection, track, Wait } from './testing-fixtures.js';

describe('RpcChannel with a misbehaving peer', () => {
  it('drops and counts malformed frames of random bytes, never throwing, and keeps serving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { minLength: 1, maxLength: 20 }),
        async (frames) => {
          const { client, clientStream, serverStream, served } = makePair();
          let accepted = 0;
          for (const frame of frames) {
            // Random bytes are occasionally a valid message (say, a cancel): those are not malformed.
            clientStream.send(frame);
            accepted++;
          }
          await settle();
          assert.equal(served.stats.framesReceived, accepted);
          assert.ok(served.stats.malformedFrames <= accepted);
          assert.deepEqual(serverStream.handlerErrors, []);
          if (served.open)
            assert.deepEqual(await client.call(Echo, { text: 'still here' }), { text: 'still here' });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('counts frames that decode but break the shape or the protocol', async () => {
    const { client, clientStream, serverStream, served } = makePair();
    const garbage = [
      new Uint8Array([0xc1]), // never-used MessagePack byte
      new Uint8Array(0),
      encode({ type: 'request', id: -1, method: 'test.echo', payload: new Uint8Array(1) }),
      encode({ type: 'request', id: 1, method: '', payload: new Uint8Array(1) }),
      encode({ type: 'teleport', id: 1 }),
      encode({ type: 'batch', messages: [] }),
      encode({ type: 'batch', messages: [{ type: 'batch', messages: [] }] }),
      encode([1, 2, 3]),
      encode('hello'),
    ];
    for (const frame of garbage) clientStream.send(frame);
    await settle();
    assert.equal(served.stats.malformedFrames, garbage.length);
    // A duplicate id while the first request is still running is a protocol error.
    const call = track(client.call(Wait, { key: 1 }));
    await settle();
    clientStream.send(
      encodeMessage({ type: 'request', id: 1, method: 'test.wait', payload: encode({ key: 2 }) }),
    );
    await settle();
    assert.equal(served.stats.malformedFrames, garbage.length + 1);
    // An answer for an id the server never asked about is ignored.
    clientStream.send(encodeMessage({ type: 'response', id: 99, payload: encode(null) }));
    await settle();
    assert.equal(served.stats.lateAnswers, 1);
    assert.deepEqual(serverStream.handlerErrors, []);
    assert.ok(served.open);
    served.close();
    assert.equal((await rejection(call.promise)).code, 'RPC_CONNECTION_LOST');
  });

  it('closes the stream after maxMalformedFrames', async () => {
    const { client, clientStream, served } = makePair({ serverLimits: { maxMalformedFrames: 5 } });
    const pending = track(client.call(Wait, { key: 1 }));
    await settle();
    for (let i = 0; i < 5; i++) clientStream.send(new Uint8Array([0xc1]));
    await settle();
    assert.equal(served.open, false);
    assert.equal((await served.closed)?.code, 'RPC_CONNECTION_LOST');
    assert.equal((await rejection(pending.promise)).code, 'RPC_CONNECTION_LOST');
  });
});

describe('RpcChannel when the stream goes away', () => {
  it('rejects every pending call with RPC_CONNECTION_LOST and aborts the peer’s handlers', async () => {
    const { client, clientStream, waits, served, clock } = makePair();
    const calls = [1, 2, 3].map((key) => track(client.call(Wait, { key })).promise);
    await settle();
    clientStream.sever();
    for (const call of calls) assert.equal((await rejection(call)).code, 'RPC_CONNECTION_LOST');
    for (const { ctx } of waits.values()) {
      assert.ok(ctx.signal.aborted);
      assert.equal((ctx.signal.reason as CairnError).code, 'RPC_CONNECTION_LOST');
    }
    assert.equal(client.open, false);
    assert.equal(served.open, false);
    assert.equal((await client.closed)?.code, 'RPC_CONNECTION_LOST');
    assert.equal((await rejection(client.call(Echo, { text: '' }))).code, 'RPC_CONNECTION_LOST');
    assert.equal(clock.pending, 0);
  });

  it('fails calls at once when the stream is found closed while sending', async () => {
    const { client, clientStream, clock } = makePair({ limits: { maxBatchCount: 2 } });
    clientStream.sever(); // the close handler has not run yet: the channel still thinks it is open
    const calls = [1, 2].map((key) => track(client.call(Wait, { key })));
    for (const call of calls) assert.equal((await rejection(call.promise)).code, 'RPC_CONNECTION_LOST');
    assert.equal(clock.pending, 0);
  });

  it('on a local close rejects with CLOSED here and RPC_CONNECTION_LOST at the peer', async () => {
    const { client, served, waits } = makePair();
    const mine = track(client.call(Wait, { key: 1 }));
    await settle();
    const theirs = track(served.call(Echo, { text: 'never answered' }));
    served.close();
    assert.equal((await rejection(theirs.promise)).code, 'CLOSED');
    assert.equal((await rejection(mine.promise)).code, 'RPC_CONNECTION_LOST');
    assert.ok(waits.get(1)!.ctx.signal.aborted);
    assert.equal(await served.closed, undefined);
  });

  it('rejects calls whose frame hits stream backpressure with RPC_OVERLOADED', async () => {
    const { client, clientStream, waits } = makePair({ maxBufferBytes: 200 });
    clientStream.hold(); // the peer stops reading: bytes pile up in our buffer
    const first = client.call(Echo, { text: 'a'.repeat(100) });
    await settle();
    const second = client.call(Echo, { text: 'b'.repeat(150) });
    assert.equal((await rejection(second)).code, 'RPC_OVERLOADED');
    assert.equal(client.stats.sendFailures, 1);
    clientStream.release();
    assert.deepEqual(await first, { text: 'a'.repeat(100) });
    assert.equal(waits.size, 0);
  });
});
