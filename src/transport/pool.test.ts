import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, type Clock, isCairnError, Rng, type TimerHandle } from '../core/index.js';
import { DEFAULT_LIMITS } from './limits.js';
import { StreamPool } from './pool.js';
import type { Address, DialOptions, Stream, Transport } from './types.js';

class FakeStream implements Stream {
  open = true;
  closes = 0;
  readonly bufferedBytes = 0;
  constructor(readonly remoteAddress: Address) {}
  send(): boolean {
    return true;
  }
  async write(): Promise<void> {}
  onFrame(): void {}
  onDrain(): void {}
  onClose(): void {}
  close(): void {
    this.open = false;
    this.closes++;
  }
  destroy(): void {
    this.open = false;
  }
}

/** A transport whose dials the test settles by hand. */
class FakeTransport implements Transport {
  readonly localAddress = '127.0.0.1:1';
  readonly mtu = 1400;
  readonly limits = DEFAULT_LIMITS;
  readonly dials: Array<{ to: Address; resolve: () => FakeStream; reject: () => void }> = [];
  sendPacket(): void {}
  onPacket(): void {}
  onStream(): void {}
  async close(): Promise<void> {}
  dial(to: Address, _options?: DialOptions): Promise<Stream> {
    return new Promise((resolve, reject) => {
      this.dials.push({
        to,
        resolve: () => {
          const s = new FakeStream(to);
          resolve(s);
          return s;
        },
        reject: () => reject(new CairnError('TRANSPORT_UNREACHABLE', `no one at ${to}`)),
      });
    });
  }
}

class StepClock implements Clock {
  time = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now(): number {
    return this.time;
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.push({ at: this.time + delayMs, fn, id });
    return id as unknown as TimerHandle;
  }
  cancel(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== (handle as unknown as number));
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fn();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StreamPool', () => {
  it('shares one dial between concurrent callers and reuses the open stream', async () => {
    const t = new FakeTransport();
    const pool = new StreamPool(t, { rng: Rng.fromSeed(1) });
    const p1 = pool.get('a:1');
    const p2 = pool.get('a:1');
    assert.equal(t.dials.length, 1);
    const s = t.dials[0]!.resolve();
    assert.equal(await p1, s);
    assert.equal(await p2, s);
    assert.equal(await pool.get('a:1'), s);
    assert.equal(t.dials.length, 1);
  });

  it('replaces a stream that has closed', async () => {
    const t = new FakeTransport();
    const pool = new StreamPool(t, { rng: Rng.fromSeed(1) });
    const first = pool.get('a:1');
    const s1 = t.dials[0]!.resolve();
    await first;
    s1.close();
    const second = pool.get('a:1');
    assert.equal(t.dials.length, 2);
    const s2 = t.dials[1]!.resolve();
    assert.equal(await second, s2);
  });

  it('backs off exponentially with jitter after failures and resets on success', async () => {
    const t = new FakeTransport();
    const clock = new StepClock();
    const pool = new StreamPool(t, {
      clock,
      rng: Rng.fromSeed(7),
      limits: { backoffBaseMs: 100, backoffMaxMs: 1000 },
    });
    const bounds: Array<[number, number]> = [
      [50, 100],
      [100, 200],
      [200, 400],
      [400, 800],
      [500, 1000],
      [500, 1000],
    ];
    for (const [low, high] of bounds) {
      const p = pool.get('a:1');
      t.dials.at(-1)!.reject();
      await assert.rejects(p, (err) => isCairnError(err, 'TRANSPORT_UNREACHABLE'));
      const dialsBefore = t.dials.length;
      // Refused at once inside the window, without a dial.
      clock.advance(low - 1);
      await assert.rejects(pool.get('a:1'), /next dial in/);
      assert.equal(t.dials.length, dialsBefore);
      clock.advance(high - low + 1);
    }
    const ok = pool.get('a:1');
    t.dials.at(-1)!.resolve();
    await ok;
    ok.then((s) => s.close());
    await tick();
    const again = pool.get('a:1');
    assert.equal(t.dials.at(-1)!.to, 'a:1');
    t.dials.at(-1)!.resolve();
    await again;
  });

  it('waitForReady waits out the backoff on the clock, then dials', async () => {
    const t = new FakeTransport();
    const clock = new StepClock();
    const pool = new StreamPool(t, { clock, rng: Rng.fromSeed(3) });
    const p = pool.get('a:1');
    t.dials[0]!.reject();
    await assert.rejects(p);
    const waiting = pool.get('a:1', { waitForReady: true });
    await tick();
    assert.equal(t.dials.length, 1);
    clock.advance(100);
    await tick();
    assert.equal(t.dials.length, 2);
    const s = t.dials[1]!.resolve();
    assert.equal(await waiting, s);
  });

  it('evicts the least recently used stream past maxStreams', async () => {
    const t = new FakeTransport();
    const pool = new StreamPool(t, { rng: Rng.fromSeed(1), limits: { maxStreams: 2 } });
    const streams: FakeStream[] = [];
    for (const addr of ['a:1', 'b:1']) {
      const p = pool.get(addr);
      streams.push(t.dials.at(-1)!.resolve());
      await p;
    }
    await pool.get('a:1'); // a is now more recent than b
    const p = pool.get('c:1');
    t.dials.at(-1)!.resolve();
    await p;
    assert.equal(streams[1]!.closes, 1, 'b was least recently used');
    assert.equal(streams[0]!.open, true);
    assert.equal(pool.size, 2);
  });

  it('a caller can stop waiting with a signal; close() closes streams and refuses gets', async () => {
    const t = new FakeTransport();
    const pool = new StreamPool(t, { rng: Rng.fromSeed(1) });
    const ac = new AbortController();
    const p = pool.get('a:1', { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (err) => isCairnError(err, 'CANCELLED'));
    const s = t.dials[0]!.resolve();
    await tick();
    assert.equal(pool.peek('a:1'), s);
    await pool.close();
    assert.equal(s.open, false);
    await assert.rejects(pool.get('a:1'), (err) => isCairnError(err, 'TRANSPORT_CLOSED'));
  });
});
