import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  applyAwarenessDelta,
  expectedConfirmations,
  nackDelayMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from './math.js';

describe('suspicion timeout', () => {
  it('equals memberlist at sample points', () => {
    // suspicionTimeout(4, n, 1s) in memberlist util.go: 4 * max(1, log10(max(1, n))) seconds.
    assert.equal(suspicionTimeoutMinMs(4, 1, 1000), 4000);
    assert.equal(suspicionTimeoutMinMs(4, 10, 1000), 4000);
    assert.equal(suspicionTimeoutMinMs(4, 64, 1000), 7224); // log10(64) = 1.80617 -> 1806
    assert.equal(suspicionTimeoutMinMs(4, 100, 1000), 8000);
    assert.equal(suspicionTimeoutMinMs(4, 1000, 1000), 12000);
    assert.equal(suspicionTimeoutMinMs(6, 10_000, 5000), 120_000);
    // remainingSuspicionTime with n confirmations of k=3, min 2 s, max 30 s (memberlist tests).
    assert.equal(suspicionTimeoutMs(0, 3, 2000, 30_000), 30_000);
    assert.equal(suspicionTimeoutMs(1, 3, 2000, 30_000), 16_000);
    assert.equal(suspicionTimeoutMs(2, 3, 2000, 30_000), 7_810);
    assert.equal(suspicionTimeoutMs(3, 3, 2000, 30_000), 2000);
    assert.equal(suspicionTimeoutMs(4, 3, 2000, 30_000), 2000);
  });

  it('expects at most the members able to confirm, and is the minimum when none can', () => {
    assert.equal(expectedConfirmations(3, 4), 2); // capped at n - 2
    assert.equal(expectedConfirmations(3, 64), 3);
    assert.equal(expectedConfirmations(2, 2), 0);
    assert.equal(expectedConfirmations(0, 100), 0);
    assert.equal(suspicionTimeoutMs(0, 0, 1234, 9999), 1234);
  });

  it('is monotone non-increasing in confirmations and within [min, max]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 60 }),
        (k, minMs, mult, c) => {
          const maxMs = minMs * mult;
          const a = suspicionTimeoutMs(c, k, minMs, maxMs);
          const b = suspicionTimeoutMs(c + 1, k, minMs, maxMs);
          assert.ok(b <= a, `t(${c + 1})=${b} > t(${c})=${a}`);
          assert.ok(a >= minMs && a <= maxMs);
          if (k >= 1) assert.equal(suspicionTimeoutMs(0, k, minMs, maxMs), maxMs);
          if (c >= k) assert.equal(a, minMs);
        },
      ),
    );
  });

  it('grows with the cluster, from one probe-interval multiple up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 10 }), (n, mult) => {
        const a = suspicionTimeoutMinMs(mult, n, 1000);
        assert.ok(a >= mult * 1000);
        assert.ok(suspicionTimeoutMinMs(mult, n + 1, 1000) >= a);
      }),
    );
  });
});

describe('retransmit limit', () => {
  it('is retransmitMult * ceil(log10(n + 1))', () => {
    assert.equal(retransmitLimit(4, 0), 0);
    assert.equal(retransmitLimit(4, 1), 4);
    assert.equal(retransmitLimit(4, 9), 4);
    assert.equal(retransmitLimit(4, 10), 8);
    assert.equal(retransmitLimit(4, 99), 8);
    assert.equal(retransmitLimit(4, 100), 12);
    assert.equal(retransmitLimit(3, 10_000), 15);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 10 }), (n, mult) => {
        const limit = retransmitLimit(mult, n);
        assert.equal(limit % mult, 0);
        assert.ok(limit >= mult && retransmitLimit(mult, n + 1) >= limit);
        // ceil(log10(n + 1)) is the number of decimal digits of n.
        assert.equal(limit, mult * String(n).length);
      }),
    );
  });
});

describe('awareness', () => {
  it('stays within 0..max-1 and scales durations by awareness + 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 3 })),
        fc.integer({ min: 1, max: 16 }),
        (deltas, max) => {
          let a = 0;
          for (const d of deltas) {
            a = applyAwarenessDelta(a, d, max);
            assert.ok(a >= 0 && a <= max - 1);
          }
          assert.equal(scaleByAwareness(500, a), 500 * (a + 1));
        },
      ),
    );
  });

  it('sends nacks at 80% of the probe timeout', () => {
    assert.equal(nackDelayMs(500), 400);
    assert.equal(nackDelayMs(1), 1);
  });
});
