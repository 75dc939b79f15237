import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, ManualClock, silentLogger } from '../../core/index.js';
import { DEFAULT_LIMITS as TRANSPORT_LIMITS } from '../../transport/limits.js';
import type { DialOptions, Stream, Transport } from '../../transport/types.js';
import type { Message } from '../types.js';
import { DEFAULT_LIMITS, type RaftNodeLimits } from './limits.js';
import { PeerSender, peerDialTimeoutMs } from './peer-sender.js';
import { PeerStats } from './stats.js';
import { WireCodec } from './wire.js';

function heartbeat(term: number): Message {
  return {
    type: 'heartbeat',
    from: 1,
    to: 2,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
  };
}

/** A transport whose dials wait until the test settles them. */
function fakeTransport() {
  const dials: { resolve: (s: Stream) => void; reject: (e: unknown) => void; options?: DialOptions }[] = [];
  const transport = {
    localAddress: '10.0.0.1:1',
    mtu: 1400,
    limits: TRANSPORT_LIMITS,
    dial: (_to: string, options?: DialOptions) =>
      new Promise<Stream>((resolve, reject) =>
        dials.push({ resolve, reject, ...(options ? { options } : {}) }),
      ),
  } as unknown as Transport;
  return { transport, dials };
}

function fakeStream() {
  const frames: Uint8Array[] = [];
  let onClose: (() => void) | undefined;
  const stream = {
    remoteAddress: '10.0.0.2:1',
    open: true,
    bufferedBytes: 0,
    send: (f: Uint8Array) => {
      frames.push(f);
      return true;
    },
    onFrame: () => {},
    onDrain: () => {},
    onClose: (h: () => void) => {
      onClose = h;
    },
    close: () => {},
    destroy: () => {},
  };
  return { stream: stream as unknown as Stream, frames, close: () => onClose?.() };
}

function setup(limits: Partial<RaftNodeLimits> = {}) {
  const { transport, dials } = fakeTransport();
  const stats = new PeerStats();
  const unreachable: number[] = [];
  const codec = new WireCodec();
  const clock = new ManualClock(0);
  const sender = new PeerSender(2, {
    self: 1,
    transport,
    clock,
    codec,
    limits: { ...DEFAULT_LIMITS, ...limits },
    stats,
    logger: silentLogger(),
    dialTimeoutMs: peerDialTimeoutMs(1_000),
    resolve: () => '10.0.0.2:1',
    unreachable: (id) => unreachable.push(id),
  });
  return { sender, dials, stats, unreachable, codec, clock };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('PeerSender', () => {
  it('queues while dialing (bounded), then sends the hello and one batch in order', async () => {
    const t = setup({ maxPeerQueueMessages: 3 });
    t.sender.send([heartbeat(1), heartbeat(2)]);
    t.sender.send([heartbeat(3), heartbeat(4)]);
    assert.equal(t.dials.length, 1, 'one dial for all');
    assert.equal(t.stats.messagesDropped, 1, 'the fourth is over the queue limit');
    assert.deepEqual(t.unreachable, [2]);
    const s = fakeStream();
    t.dials[0]!.resolve(s.stream);
    await tick();
    assert.equal(s.frames.length, 2, 'hello, then one batch');
    const sent = t.codec.decodeBatch(s.frames[1]!, 1, 2);
    assert.deepEqual(
      sent.map((m) => m.term),
      [1, 2, 3],
    );
  });

  it('a failed dial drops the queue, reports the peer, and backs off before dialing again', async () => {
    const t = setup();
    t.sender.send([heartbeat(1)]);
    t.dials[0]!.reject(new CairnError('TRANSPORT_UNREACHABLE', 'no'));
    await tick();
    assert.equal(t.stats.messagesDropped, 1);
    assert.equal(t.stats.dialFailures, 1);
    t.sender.send([heartbeat(2)]);
    assert.equal(t.dials.length, 1, 'no dial while backing off');
    assert.equal(t.stats.messagesDropped, 2);
    t.clock.advance(1000);
    t.sender.send([heartbeat(3)]);
    assert.equal(t.dials.length, 2, 'dials again after the backoff');
  });

  it("dials with the peer dial timeout, one second plus the election timeout, not the transport's", () => {
    const t = setup();
    t.sender.send([heartbeat(1)]);
    assert.equal(t.dials[0]!.options?.timeoutMs, 2_000);
  });

  it('a closed stream is reported and replaced on the next send', async () => {
    const t = setup();
    t.sender.send([heartbeat(1)]);
    const s = fakeStream();
    t.dials[0]!.resolve(s.stream);
    await tick();
    (s.stream as { open: boolean }).open = false;
    s.close();
    assert.deepEqual(t.unreachable, [2]);
    t.clock.advance(1000);
    t.sender.send([heartbeat(2)]);
    assert.equal(t.dials.length, 2);
  });
});
