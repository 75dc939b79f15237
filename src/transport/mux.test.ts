import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Simulator } from '../sim/index.js';
import { TransportMux } from './mux.js';
import type { Stream, Transport } from './types.js';

/** The channel's count of tracked streams (not part of the Transport interface). */
function tracked(channel: Transport): number {
  return (channel as unknown as { trackedStreams: number }).trackedStreams;
}

describe('MuxChannel stream tracking', () => {
  it('forgets closed streams as it goes, not only at maxStreams', async () => {
    const sim = new Simulator({ seed: 1 });
    const stop = sim.autoRun();
    const ma = new TransportMux(sim.network.transport('10.0.0.1:7946'));
    const mb = new TransportMux(sim.network.transport('10.0.0.2:7946'));
    const a = ma.channel(1);
    const b = mb.channel(1);
    const inbound: Stream[] = [];
    b.onStream((s) => {
      inbound.push(s);
      s.onFrame((f) => s.send(f));
    });
    try {
      const kept: Stream[] = [];
      let peak = 0;
      for (let i = 0; i < 300; i++) {
        const s = await a.dial(b.localAddress);
        // Copied in the handler: a delivered frame is the handler's for the call only.
        const echoed = new Promise<Uint8Array>((resolve) => s.onFrame((f) => resolve(f.slice())));
        s.send(Uint8Array.of(i & 0xff));
        assert.deepEqual(await echoed, Uint8Array.of(i & 0xff));
        // Every tenth stream stays open; the others close.
        if (i % 10 === 0) kept.push(s);
        else s.close();
        peak = Math.max(peak, tracked(a));
      }
      // 30 streams stay open; without pruning the dialer would track all 300.
      assert.ok(peak <= 2 * kept.length + 16, `tracked up to ${peak} streams with ${kept.length} open`);
      assert.ok(peak >= kept.length);
      for (const s of kept) assert.ok(s.open, 'an open stream was dropped by pruning');
      assert.ok(tracked(b) <= 2 * kept.length + 16 + 1);
    } finally {
      await ma.close();
      await mb.close();
      await stop();
    }
  });
});
