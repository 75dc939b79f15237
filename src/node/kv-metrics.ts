import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../core/index.js';
import type { KvNodeStatus } from '../kv/cluster/kv-node.js';

/**
 * The kv node's counters in the agent's Prometheus registry, read from `KvNode.status()` when
 * `/metrics` is scraped (the node keeps plain counters; nothing is counted twice). Request outcomes
 * by op, level and result (`cairn_kv_requests_total`) and streaming progress gauges are recorded
 * by the node itself; these add:
 *
 * - `cairn_kv_hints_total{event}`: hints stored, dropped, delivered, failed deliveries.
 * - `cairn_kv_hints_pending_bytes{target}`: hint bytes waiting per target node.
 * - `cairn_kv_read_repairs_total`, `cairn_kv_digest_mismatches_total`: blocking read repair.
 * - `cairn_kv_anti_entropy_rounds_total`, `cairn_kv_anti_entropy_total{event}`: Merkle exchanges.
 * - `cairn_kv_streamed_keys`, `cairn_kv_streamed_bytes`: the last join or decommission.
 * - `cairn_kv_ring_status{status}`: 1 for this node's ring status, 0 for the others.
 * - `cairn_kv_clock_refusing`: 1 while this node refuses to coordinate (clock skew).
 */

const RING_STATUSES = ['joining', 'normal', 'leaving', 'left'] as const;

/** Registers the collectors on `metrics`; `status` is undefined while the node does not run. */
export function registerKvMetrics(metrics: Metrics, status: () => KvNodeStatus | undefined): void {
  const registers = [metrics.registry];
  const counterOf = (
    name: string,
    help: string,
    labelNames: readonly string[],
    values: (s: KvNodeStatus) => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        const s = status();
        if (s === undefined) return;
        this.reset();
        for (const [labels, value] of values(s)) this.inc(labels, value);
      },
    });
  const gaugeOf = (
    name: string,
    help: string,
    labelNames: readonly string[],
    values: (s: KvNodeStatus) => [Record<string, string>, number][],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        const s = status();
        this.reset();
        if (s === undefined) return;
        for (const [labels, value] of values(s)) this.set(labels, value);
      },
    });
  counterOf('cairn_kv_hints_total', 'Hinted handoff events, by event.', ['event'], (s) => [
    [{ event: 'stored' }, s.handoff.stored],
    [{ event: 'dropped' }, s.handoff.dropped],
    [{ event: 'delivered' }, s.handoff.delivered],
    [{ event: 'failed_delivery' }, s.handoff.failedDeliveries],
  ]);
  gaugeOf('cairn_kv_hints_pending_bytes', 'Hint bytes waiting for a target node.', ['target'], (s) =>
    Object.entries(s.hintsPending).map(([target, bytes]) => [{ target }, bytes]),
  );
  counterOf('cairn_kv_read_repairs_total', 'Replicas repaired by blocking read repair.', [], (s) => [
    [{}, s.coordinator.readRepairs],
  ]);
  counterOf('cairn_kv_digest_mismatches_total', 'Reads whose replica digests disagreed.', [], (s) => [
    [{}, s.coordinator.digestMismatches],
  ]);
  counterOf('cairn_kv_anti_entropy_rounds_total', 'Anti-entropy rounds run.', [], (s) => [
    [{}, s.antiEntropy.rounds],
  ]);
  counterOf(
    'cairn_kv_anti_entropy_total',
    'Anti-entropy work, by event (ranges compared or differing, cells pulled or pushed, failures, purged).',
    ['event'],
    (s) => [
      [{ event: 'range_compared' }, s.antiEntropy.rangesCompared],
      [{ event: 'range_differing' }, s.antiEntropy.rangesDiffering],
      [{ event: 'cell_pulled' }, s.antiEntropy.cellsPulled],
      [{ event: 'cell_pushed' }, s.antiEntropy.cellsPushed],
      [{ event: 'failure' }, s.antiEntropy.failures],
      [{ event: 'purged' }, s.antiEntropy.purged],
    ],
  );
  gaugeOf('cairn_kv_streamed_keys', 'Cells the last join or decommission streamed.', ['operation'], (s) =>
    s.streaming === undefined ? [] : [[{ operation: s.streaming.operation }, s.streaming.cells]],
  );
  gaugeOf('cairn_kv_streamed_bytes', 'Bytes the last join or decommission streamed.', ['operation'], (s) =>
    s.streaming === undefined ? [] : [[{ operation: s.streaming.operation }, s.streaming.bytes]],
  );
  gaugeOf('cairn_kv_ring_status', "1 for this node's ring status.", ['status'], (s) =>
    RING_STATUSES.map((status) => [{ status }, s.ring === status ? 1 : 0]),
  );
  gaugeOf('cairn_kv_clock_refusing', '1 while this node refuses to coordinate (clock skew).', [], (s) => [
    [{}, s.clock.refusal === undefined ? 0 : 1],
  ]);
}
