import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, parseCsv, roundRatios, summarize } from './kv.js';

describe('kv bench: redis-benchmark --csv', () => {
  it('reads requests/s, p50 and p99 per test, and ignores progress and other lines', () => {
    const text = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
      '"SET","8413.97","3.981","0.384","3.327","10.143","15.103","27.839"',
      'Error from server: TIMEOUT',
      '"GET","21668.47","1.418","0.272","0.999","4.071","8.271","21.375"',
      '"INCR","1","1","1","1","1","1","1"',
    ].join('\n');
    assert.deepEqual(parseCsv(text), {
      SET: { rps: 8413.97, p50Ms: 3.327, p99Ms: 15.103 },
      GET: { rps: 21668.47, p50Ms: 0.999, p99Ms: 8.271 },
    });
    assert.deepEqual(parseCsv(''), {});
  });
});

describe('kv bench: rounds', () => {
  it("takes medians over the rounds and keeps each round's requests/s", () => {
    assert.equal(median([]), undefined);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    const f = (rps: number, cpu?: number) => ({
      rps,
      p50Ms: rps / 1000,
      p99Ms: rps / 100,
      ...(cpu === undefined ? {} : { serverCpuUsPerRequest: cpu }),
    });
    assert.equal(summarize([]), undefined);
    assert.deepEqual(summarize([f(300, 9), f(100, 30), f(200, 12)]), {
      rps: 200,
      p50Ms: 0.2,
      p99Ms: 2,
      rpsRounds: [300, 100, 200],
      serverCpuUsPerRequest: 12,
    });
    assert.deepEqual(summarize([f(100)]), { rps: 100, p50Ms: 0.1, p99Ms: 1, rpsRounds: [100] });
  });

  it('divides each round by the same round of Redis, leaving out rounds either missed', () => {
    const f = (rps: number) => ({ rps, p50Ms: 1, p99Ms: 2 });
    assert.deepEqual(roundRatios([f(30), f(20), undefined, f(10)], [f(60), f(80), f(50), f(0)]), [0.5, 0.25]);
    // Paired, not pooled: the median of [0.5, 0.25, 0.4] differs from 20 / 60.
    const each = roundRatios([f(30), f(20), f(24)], [f(60), f(80), f(60)]);
    assert.equal(median(each), 0.4);
  });
});
