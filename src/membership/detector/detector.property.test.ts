import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { phiAccrualConfig } from './config.js';
import { PhiAccrualDetector } from './detector.js';
import { close, ReferenceDetector } from './reference.test-helper.js';

// fast-check prints the seed and the shrunk counterexample on failure; replay with
// `fc.assert(..., { seed, path })` or FC_SEED below.
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const params = { numRuns: 200, ...(seed === undefined ? {} : { seed }) };

const configArb = fc.record({
  distribution: fc.constantFrom('exponential' as const, 'normal' as const),
  windowSize: fc.integer({ min: 2, max: 24 }),
  minStdDeviationMs: fc.double({ min: 1, max: 300, noNaN: true }),
  acceptableHeartbeatPauseMs: fc.constantFrom(0, 500, 3000),
  firstHeartbeatEstimateMs: fc.double({ min: 50, max: 5000, noNaN: true }),
  maxIntervalMs: fc.double({ min: 500, max: 15_000, noNaN: true }),
});

/** A heartbeat step: how long after the previous one (occasionally negative: a stale report). */
const stepArb = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 3000, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: 3000, max: 30_000, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: -2000, max: 0, noNaN: true }) },
);

describe('PhiAccrualDetector against a recompute-everything reference (property)', () => {
  it('gives the same phi within 1e-9 relative after every heartbeat', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(stepArb, { minLength: 1, maxLength: 150 }),
        fc.array(fc.double({ min: 0, max: 40_000, noNaN: true }), { minLength: 1, maxLength: 4 }),
        (overrides, steps, probes) => {
          const config = phiAccrualConfig(overrides);
          const fd = new PhiAccrualDetector(config);
          const ref = new ReferenceDetector(config);
          let now = 1_000_000;
          fd.heartbeat('n', now);
          ref.heartbeat(now);
          let latest = now;
          for (const step of steps) {
            now = latest + step;
            fd.heartbeat('n', now);
            ref.heartbeat(now);
            latest = Math.max(latest, now);
            assert.deepEqual(fd.intervals('n'), ref.window());
            for (const probe of probes) {
              const expected = ref.phi(latest + probe);
              const actual = fd.phi('n', latest + probe);
              if (expected === Number.POSITIVE_INFINITY) {
                // The naive formula underflows; ours stays finite and far beyond any threshold.
                assert.ok(
                  Number.isFinite(actual) && actual > 300,
                  `phi ${actual} where reference overflowed`,
                );
              } else {
                assert.ok(close(actual, expected), `phi ${actual} vs reference ${expected} at +${probe} ms`);
              }
              assert.equal(fd.isAvailable('n', latest + probe), actual < config.threshold);
            }
          }
        },
      ),
      params,
    );
  });

  it('never decreases as time passes without heartbeats', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(fc.double({ min: 0, max: 3000, noNaN: true }), { minLength: 0, maxLength: 60 }),
        fc.double({ min: 0, max: 100_000, noNaN: true }),
        fc.double({ min: 0, max: 100_000, noNaN: true }),
        (overrides, steps, a, b) => {
          const fd = new PhiAccrualDetector(overrides);
          let now = 0;
          fd.heartbeat('n', now);
          for (const s of steps) {
            now += s;
            fd.heartbeat('n', now);
          }
          const [early, late] = a <= b ? [a, b] : [b, a];
          const pEarly = fd.phi('n', now + early);
          const pLate = fd.phi('n', now + late);
          assert.ok(pEarly >= 0 && Number.isFinite(pLate));
          assert.ok(pLate >= pEarly, `phi(${late}) = ${pLate} < phi(${early}) = ${pEarly}`);
        },
      ),
      params,
    );
  });
});
