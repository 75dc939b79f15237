import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { DEFAULT_PHI_ACCRUAL_CONFIG, phiAccrualConfig } from './config.js';
import { PhiAccrualDetector } from './detector.js';
import { phiExponential, phiNormal } from './phi.js';

/** Feeds `count` heartbeats to `node`, `interval()` ms apart, starting at `start`; returns the last time. */
function feed(
  fd: PhiAccrualDetector,
  node: string,
  start: number,
  count: number,
  interval: () => number,
): number {
  let t = start;
  fd.heartbeat(node, t);
  for (let i = 1; i < count; i++) {
    t += interval();
    fd.heartbeat(node, t);
  }
  return t;
}

describe('phi functions', () => {
  it('exponential is (t / mean) * log10(e), shifted by the pause', () => {
    assert.equal(phiExponential(0, 1000, 0), 0);
    assert.equal(phiExponential(1000, 1000, 0), Math.LOG10E);
    assert.ok(Math.abs(phiExponential(18_420.68, 1000, 0) - 8) < 1e-4);
    assert.equal(phiExponential(2999, 1000, 3000), 0);
    assert.equal(phiExponential(4000, 1000, 3000), Math.LOG10E);
  });

  it('normal matches Akka: about 0.3 at the mean, large well past it, finite for any silence', () => {
    // At the mean, 1 - F(0) = 0.5 so phi = log10(2).
    assert.ok(Math.abs(phiNormal(1000, 1000, 100, 0) - Math.log10(2)) < 1e-12);
    assert.ok(phiNormal(1500, 1000, 100, 0) > 6);
    assert.ok(phiNormal(0, 1000, 100, 0) < 1e-12);
    const huge = phiNormal(1e12, 1000, 100, 0);
    assert.ok(Number.isFinite(huge) && huge > 1e20);
    assert.ok(phiNormal(-1e12, 1000, 100, 0) >= 0);
  });
});

describe('PhiAccrualDetector', () => {
  it('treats an unknown node as available with phi 0', () => {
    const fd = new PhiAccrualDetector();
    assert.equal(fd.phi('x', 1e6), 0);
    assert.equal(fd.isAvailable('x', 1e6), true);
    assert.equal(fd.isMonitoring('x'), false);
    assert.deepEqual(fd.nodes(), []);
  });

  it('bootstraps a new node from firstHeartbeatEstimateMs and convicts it if it never speaks again', () => {
    const fd = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 1000 });
    fd.heartbeat('n', 0);
    assert.deepEqual(fd.intervals('n'), [750, 1250]);
    assert.equal(fd.isAvailable('n', 10_000), true);
    // Exponential, threshold 8: convicted after 8 / log10(e) = 18.42 mean intervals.
    assert.equal(fd.isAvailable('n', 18_000), true);
    assert.equal(fd.isAvailable('n', 18_500), false);
  });

  it('keeps phi low under regular heartbeats and convicts after a silence', () => {
    for (const distribution of ['exponential', 'normal'] as const) {
      const fd = new PhiAccrualDetector({ distribution });
      const last = feed(fd, 'n', 0, 200, () => 1000);
      assert.ok(fd.phi('n', last + 1000) < 1, `${distribution}: phi one interval later`);
      assert.equal(fd.isAvailable('n', last + 1000), true);
      assert.equal(fd.isAvailable('n', last + 60_000), false, `${distribution}: a minute of silence`);
    }
  });

  it('grows monotonically with the time since the last heartbeat', () => {
    for (const distribution of ['exponential', 'normal'] as const) {
      const fd = new PhiAccrualDetector({ distribution, acceptableHeartbeatPauseMs: 500 });
      const rng = Rng.fromSeed(`monotonic-${distribution}`);
      const last = feed(fd, 'n', 0, 100, () => rng.range(800, 1200));
      let previous = -1;
      for (let dt = 0; dt <= 120_000; dt += 37) {
        const phi = fd.phi('n', last + dt);
        assert.ok(phi >= previous, `${distribution}: phi fell from ${previous} to ${phi} at +${dt} ms`);
        previous = phi;
      }
    }
  });

  it('tolerates jitter it has learnt: a jittery link is suspected later than a regular one', () => {
    const regular = new PhiAccrualDetector({ distribution: 'normal' });
    const jittery = new PhiAccrualDetector({ distribution: 'normal' });
    const rng = Rng.fromSeed('jitter');
    const lastRegular = feed(regular, 'n', 0, 500, () => 1000);
    let lastJittery = 0;
    jittery.heartbeat('n', 0);
    // Heartbeats 1000 +- 400 ms apart: never suspected right before the next one arrives.
    for (let i = 0; i < 500; i++) {
      const next = lastJittery + 600 + rng.int(801);
      assert.equal(jittery.isAvailable('n', next - 1), true, `suspected before heartbeat ${i}`);
      jittery.heartbeat('n', next);
      lastJittery = next;
    }
    // 1.6 s of silence is alarming on a regular link (6 minimum deviations) but not on a jittery one.
    assert.equal(regular.isAvailable('n', lastRegular + 1600), false);
    assert.equal(jittery.isAvailable('n', lastJittery + 1600), true);
  });

  it('does not record intervals longer than maxIntervalMs, but moves the last heartbeat', () => {
    const fd = new PhiAccrualDetector({ maxIntervalMs: 5000 });
    fd.heartbeat('n', 0);
    fd.heartbeat('n', 1000);
    fd.heartbeat('n', 60_000);
    assert.deepEqual(fd.intervals('n'), [750, 1250, 1000]);
    assert.equal(fd.stats('n')?.lastHeartbeatMs, 60_000);
    assert.equal(fd.phi('n', 60_000), 0);
  });

  it('respects the window bound', () => {
    const fd = new PhiAccrualDetector({ windowSize: 10 });
    let t = 0;
    fd.heartbeat('n', t);
    for (let i = 1; i <= 5000; i++) {
      t += 500 + (i % 7);
      fd.heartbeat('n', t);
    }
    const intervals = fd.intervals('n');
    assert.equal(intervals.length, 10);
    assert.deepEqual(
      intervals,
      Array.from({ length: 10 }, (_, k) => 500 + ((4991 + k) % 7)),
    );
    assert.equal(fd.stats('n')?.samples, 10);
  });

  it('resets a node on remove(): phi 0, then a fresh bootstrap window', () => {
    const fd = new PhiAccrualDetector();
    feed(fd, 'n', 0, 50, () => 200);
    assert.equal(fd.isAvailable('n', 100_000), false);
    assert.equal(fd.remove('n'), true);
    assert.equal(fd.remove('n'), false);
    assert.equal(fd.phi('n', 100_000), 0);
    assert.equal(fd.isMonitoring('n'), false);
    fd.heartbeat('n', 100_000);
    assert.deepEqual(fd.intervals('n'), [750, 1250]);
    assert.equal(fd.isAvailable('n', 101_000), true);
  });

  it('shifts suspicion by acceptableHeartbeatPauseMs', () => {
    const fd = new PhiAccrualDetector({ acceptableHeartbeatPauseMs: 3000 });
    const last = feed(fd, 'n', 0, 20, () => 1000);
    assert.equal(fd.phi('n', last + 3000), 0);
    assert.ok(fd.phi('n', last + 4000) > 0);
  });

  it('floors the exponential mean at minStdDeviationMs so duplicate heartbeats cannot make phi explode', () => {
    const fd = new PhiAccrualDetector({ windowSize: 10, minStdDeviationMs: 100 });
    feed(fd, 'n', 0, 50, () => 0);
    assert.equal(fd.stats('n')?.meanMs, 0);
    assert.equal(fd.phi('n', 100), Math.LOG10E);
  });

  it('reads time going backwards as no time elapsed and ignores an older heartbeat', () => {
    const fd = new PhiAccrualDetector();
    fd.heartbeat('n', 10_000);
    fd.heartbeat('n', 11_000);
    fd.heartbeat('n', 5_000);
    assert.deepEqual(fd.intervals('n'), [750, 1250, 1000]);
    assert.equal(fd.stats('n')?.lastHeartbeatMs, 11_000);
    assert.equal(fd.phi('n', 9_000), 0);
  });

  it('rejects non-finite times', () => {
    const fd = new PhiAccrualDetector();
    assert.throws(() => fd.heartbeat('n', Number.NaN), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => fd.phi('n', Number.POSITIVE_INFINITY), { code: 'INVALID_ARGUMENT' });
  });

  it('rejects a new node over maxTrackedNodes and keeps serving the tracked ones', () => {
    const fd = new PhiAccrualDetector({}, { maxTrackedNodes: 2 });
    fd.heartbeat('a', 0);
    fd.heartbeat('b', 0);
    assert.throws(() => fd.heartbeat('c', 0), { code: 'LIMIT_EXCEEDED', message: /maxTrackedNodes=2/ });
    fd.heartbeat('a', 1000);
    assert.deepEqual(fd.nodes(), ['a', 'b']);
    assert.equal(fd.size, 2);
    fd.remove('b');
    fd.heartbeat('c', 1000);
    assert.deepEqual(fd.nodes(), ['a', 'c']);
  });
});

describe('phiAccrualConfig', () => {
  it('fills defaults (Cassandra threshold 8 and window 1000, exponential)', () => {
    const c = phiAccrualConfig();
    assert.deepEqual(c, DEFAULT_PHI_ACCRUAL_CONFIG);
    assert.equal(c.threshold, 8);
    assert.equal(c.windowSize, 1000);
    assert.equal(c.distribution, 'exponential');
    assert.ok(Object.isFrozen(c));
  });

  const bad: [string, unknown][] = [
    ['threshold', 0],
    ['threshold', Number.NaN],
    ['windowSize', 1],
    ['windowSize', 2.5],
    ['minStdDeviationMs', 0],
    ['acceptableHeartbeatPauseMs', -1],
    ['firstHeartbeatEstimateMs', -5],
    ['maxIntervalMs', Number.POSITIVE_INFINITY],
    ['distribution', 'gamma'],
    ['thresold', 8],
  ];
  for (const [field, value] of bad) {
    it(`rejects ${field}=${String(value)} naming the field`, () => {
      assert.throws(
        () => new PhiAccrualDetector({ [field]: value } as never),
        (err: { code?: string; message?: string }) =>
          err.code === 'INVALID_CONFIG' && (err.message ?? '').includes(field),
      );
    });
  }

  it('rejects a window over maxWindowSize with LIMIT_EXCEEDED, and accepts it with a raised limit', () => {
    assert.throws(() => new PhiAccrualDetector({ windowSize: 20_000 }), { code: 'LIMIT_EXCEEDED' });
    const fd = new PhiAccrualDetector({ windowSize: 20_000 }, { maxWindowSize: 20_000 });
    assert.equal(fd.config.windowSize, 20_000);
  });

  it('rejects bad limit overrides', () => {
    assert.throws(() => new PhiAccrualDetector({}, { maxTrackedNodes: 0 }), { code: 'INVALID_CONFIG' });
  });
});
