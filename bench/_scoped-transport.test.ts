import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentInternScope, InternScope, PROCESS_SCOPE } from '../src/membership/intern.js';
import { NetTransport } from '../src/transport/net/net-transport.js';
import { scopedTransport } from './_scoped-transport.js';

const create = () => NetTransport.create({ host: '127.0.0.1', port: 0, closeTimeoutMs: 500 });

describe('scopedTransport', () => {
  it('runs packet, inbound stream and dialed stream handlers in its scope', { timeout: 10_000 }, async () => {
    const receiverScope = new InternScope('receiver');
    const senderScope = new InternScope('sender');
    const receiver = scopedTransport(await create(), receiverScope);
    const sender = scopedTransport(await create(), senderScope);
    try {
      const packetScope = new Promise<InternScope>((resolve) =>
        receiver.onPacket(() => resolve(currentInternScope())),
      );
      // The inbound side answers each frame; Node runs an accepted socket's data with no context.
      const inboundFrameScope = new Promise<InternScope>((resolve) =>
        receiver.onStream((stream) =>
          stream.onFrame((frame) => {
            resolve(currentInternScope());
            stream.send(frame);
          }),
        ),
      );
      // Everything is started from outside any scope.
      assert.equal(currentInternScope(), PROCESS_SCOPE);
      sender.sendPacket(receiver.localAddress, new Uint8Array([1, 2, 3]));
      const stream = await sender.dial(receiver.localAddress);
      const dialedFrameScope = new Promise<InternScope>((resolve) =>
        stream.onFrame(() => resolve(currentInternScope())),
      );
      stream.send(new Uint8Array([4, 5, 6]));
      assert.equal(await packetScope, receiverScope);
      assert.equal(await inboundFrameScope, receiverScope);
      assert.equal(await dialedFrameScope, senderScope);
      stream.close();
    } finally {
      await Promise.all([receiver.close(), sender.close()]);
    }
  });
});
