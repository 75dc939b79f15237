/**
 * Simulator benchmark: `npm run bench -- sim [--nodes 1000] [--seed 42] [--loss 0.1] [--duration-ms 10000]`.
 *
 * Runs the ping simulation (runPingSim) at the given size twice: on the fast path (no settling
 * between events; the ping drivers are synchronous) and with settling after every event (what
 * async drivers need). Reports wall time and events per second of each, and whether both gave the
 * same trace hash (they must: settling changes speed, not the run). Measures; never fails on a time.
 */
import { parseArgs } from 'node:util';
import { type PingSimResult, runPingSim } from '../src/sim/index.js';
import { intOption, numberOption } from './_args.js';

function summary(r: PingSimResult) {
  return {
    wall_ms: r.wall_ms,
    setup_ms: r.setup_ms,
    events: r.events,
    events_per_s: r.events_per_s,
    messages_sent: r.messages_sent,
    messages_delivered: r.messages_delivered,
    trace_hash: r.trace_hash,
    heap_mb: Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
  };
}

/** Runs the benchmark; returns the JSON the runner prints. */
export async function main(argv: string[]): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '42' },
      loss: { type: 'string', default: '0.1' },
      'duration-ms': { type: 'string', default: '10000' },
      'interval-ms': { type: 'string', default: '1000' },
      'skip-settle': { type: 'boolean', default: false },
    },
  });
  const nodes = intOption('nodes', values.nodes, 1, 100_000);
  const options = {
    nodes,
    seed: values.seed,
    loss: numberOption('loss', values.loss, 0, 1),
    durationMs: intOption('duration-ms', values['duration-ms'], 1, 3_600_000),
    intervalMs: intOption('interval-ms', values['interval-ms'], 1, 3_600_000),
  };
  process.stderr.write(`sim bench: ${JSON.stringify(options)}\n`);
  // Warm-up runs (both modes) so the JIT has compiled the hot paths before anything is timed.
  const warm = {
    ...options,
    nodes: Math.min(nodes, 1_000),
    durationMs: Math.min(options.durationMs, 10_000),
  };
  await runPingSim({ ...warm, settle: false });
  await runPingSim({ ...warm, settle: true });
  const fast = await runPingSim({ ...options, settle: false });
  process.stderr.write(`fast path: ${fast.wall_ms} ms, ${fast.events_per_s} events/s\n`);
  const out: Record<string, unknown> = {
    nodes,
    seed: fast.seed,
    loss: options.loss,
    virtual_ms: fast.virtual_ms,
    interval_ms: options.intervalMs,
    fast: summary(fast),
  };
  if (!values['skip-settle']) {
    const settled = await runPingSim({ ...options, settle: true });
    process.stderr.write(`settle: ${settled.wall_ms} ms, ${settled.events_per_s} events/s\n`);
    out.settle = summary(settled);
    out.same_trace = settled.trace_hash === fast.trace_hash;
    out.settle_slowdown = Math.round((settled.wall_ms / fast.wall_ms) * 100) / 100;
  }
  return out;
}
