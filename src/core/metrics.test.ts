import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Metrics } from './metrics.js';

const BUCKETS = [0.001, 0.005, 0.02, 0.1, 0.5, 2, 5];

async function text(m: Metrics): Promise<string> {
  return m.text();
}

/** The registry's JSON without prom-client's `exemplar: null` (hot series keep no exemplars). */
function json(metrics: unknown): unknown {
  return JSON.parse(JSON.stringify(metrics, (k, v) => (k === 'exemplar' && v === null ? undefined : v)));
}

describe('Metrics hot series', () => {
  it('expose exactly what prom-client counters and histograms expose for the same observations', async () => {
    const ops = ['get', 'put', 'del'];
    const results = ['ok', 'UNAVAILABLE', 'TIMEOUT'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom(...ops),
            result: fc.constantFrom(...results),
            seconds: fc.oneof(
              fc.constantFrom(...BUCKETS, 0, 10),
              fc.double({ min: 0, max: 10, noNaN: true }),
            ),
          }),
          { maxLength: 200 },
        ),
        async (events) => {
          const hot = new Metrics({ node: 'n1' });
          const plain = new Metrics({ node: 'n1' });
          const hotCount = hot.hotCounter('x_requests_total', 'Requests', ['op', 'result']);
          const hotTime = hot.hotHistogram('x_request_seconds', 'Time', BUCKETS, ['op']);
          const count = plain.counter('x_requests_total', 'Requests', ['op', 'result']);
          const time = plain.histogram('x_request_seconds', 'Time', BUCKETS, ['op']);
          for (const e of events) {
            hotCount.series(e.op, e.result).inc();
            hotTime.series(e.op).observe(e.seconds);
            count.labels(e.op, e.result).inc();
            time.labels(e.op).observe(e.seconds);
          }
          assert.equal(await text(hot), await text(plain));
          assert.deepEqual(
            json(await hot.registry.getMetricsAsJSON()),
            json(await plain.registry.getMetricsAsJSON()),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keep one series per label values and one family per name', () => {
    const m = new Metrics();
    const c = m.hotCounter('c_total', 'c', ['a']);
    assert.equal(m.hotCounter('c_total', 'c', ['a']), c);
    const s = c.series('x');
    s.inc(2);
    assert.equal(c.series('x'), s);
    assert.equal(c.series('x').value, 2);
    assert.notEqual(c.series('y'), s);
  });

  it('refuse a wrong number of label values, unordered buckets and the le label', () => {
    const m = new Metrics();
    assert.throws(() => m.hotCounter('c_total', 'c', ['a', 'b']).series('x'), /takes 2 label values, not 1/);
    assert.throws(() => m.hotHistogram('h1', 'h', [1, 1]), /buckets must ascend/);
    assert.throws(() => m.hotHistogram('h2', 'h', [1, 2], ['le']), /le is a reserved label/);
  });

  it('reset with the registry', async () => {
    const m = new Metrics();
    const c = m.hotCounter('c_total', 'c');
    const h = m.hotHistogram('h_seconds', 'h', [1]);
    c.series().inc(5);
    h.series().observe(0.5);
    m.registry.resetMetrics();
    const t = await m.text();
    assert.match(t, /^c_total 0$/m);
    assert.match(t, /^h_seconds_count 0$/m);
    assert.match(t, /^h_seconds_bucket\{le="1"\} 0$/m);
  });
});
