import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv } from './kv.js';

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
