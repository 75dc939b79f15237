import { type Clock, describeError, type Logger, sleep } from '../../core/index.js';
import { KvError } from '../errors.js';
import { requiredReplicas, type TokenRange } from '../types.js';
import type { RingPort } from './ports.js';
import { copyRange, pullRange, pushRange, type StreamContext, type Transferred } from './streaming.js';

/** Progress of a join or a decommission, for status, metrics and the CLI's progress bar. */
export interface StreamProgress {
  readonly phase: 'waiting' | 'streaming' | 'done' | 'failed';
  readonly operation: 'join' | 'decommission' | 'removenode';
  readonly rangesTotal: number;
  readonly rangesDone: number;
  readonly cells: number;
  readonly bytes: number;
  /** The last failure, when a range had to be retried or the operation failed. */
  readonly error?: string;
}

/** What a join or a decommission needs. */
export interface ElasticContext {
  readonly self: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stream: StreamContext;
  readonly ring: () => RingPort;
  readonly isAlive: (name: string) => boolean;
  readonly ringDelayMs: number;
  /** Attempts per range before the operation fails. */
  readonly attempts: number;
}

/** Tracks progress and reports it. */
class Progress {
  value: StreamProgress;
  constructor(
    operation: StreamProgress['operation'],
    private readonly listener: ((p: StreamProgress) => void) | undefined,
  ) {
    this.value = { phase: 'waiting', operation, rangesTotal: 0, rangesDone: 0, cells: 0, bytes: 0 };
  }
  set(change: Partial<StreamProgress>): void {
    this.value = { ...this.value, ...change };
    this.listener?.(this.value);
  }
  moved(m: Transferred): void {
    this.set({ cells: this.value.cells + m.cells, bytes: this.value.bytes + m.bytes });
  }
}

/**
 * Streams this joining node's future ranges from their current replicas.
 *
 * Each range is pulled from enough live current replicas that every write acknowledged at QUORUM
 * is among them: `rf - quorum + 1` (2 of 3), or every current replica when fewer are alive (the
 * rule Cassandra relaxes to one source; it then loses writes that the one source missed). Writes
 * made meanwhile reach this node as a pending replica, which is why the caller waited
 * `ringDelayMs` after publishing `joining`: by then every coordinator sends them here.
 *
 * @throws KvError UNAVAILABLE when a range cannot be pulled from enough replicas after `attempts`
 */
export async function streamJoin(
  ctx: ElasticContext,
  onProgress?: (p: StreamProgress) => void,
  signal?: AbortSignal,
): Promise<StreamProgress> {
  const progress = new Progress('join', onProgress);
  await sleep(ctx.clock, ctx.ringDelayMs, signal);
  const ring = ctx.ring();
  const ranges = ring.futureRangesOf(ctx.self);
  progress.set({ phase: 'streaming', rangesTotal: ranges.length });
  const quorum = requiredReplicas('QUORUM', ring.rf);
  for (const range of ranges) {
    const sources = ring.replicas(range.end).filter((n) => n !== ctx.self);
    const needed = Math.min(sources.length, ring.rf - quorum + 1);
    const done = new Set<string>();
    await retry(ctx, progress, signal, async () => {
      for (const source of sources) {
        if (done.has(source) || !ctx.isAlive(source)) continue;
        try {
          await pullRange(ctx.stream, source, range, 'stream', (m) => progress.moved(m), signal);
          done.add(source);
        } catch (err) {
          progress.set({ error: `${source}: ${describeError(err)}` });
        }
      }
      if (done.size < needed) {
        throw new KvError(
          'UNAVAILABLE',
          `range ${describe(range)} was streamed from ${done.size} of the ${needed} replicas it needs`,
        );
      }
    });
    progress.set({ rangesDone: progress.value.rangesDone + 1 });
  }
  progress.set({ phase: 'done' });
  return progress.value;
}

/**
 * Streams this leaving node's ranges to their future replicas (the ring's pending nodes of each
 * range), after `ringDelayMs` so that writes made meanwhile reach them too.
 *
 * @throws KvError UNAVAILABLE when a range cannot be pushed after `attempts`
 */
export async function streamDecommission(
  ctx: ElasticContext,
  onProgress?: (p: StreamProgress) => void,
  signal?: AbortSignal,
): Promise<StreamProgress> {
  const progress = new Progress('decommission', onProgress);
  await sleep(ctx.clock, ctx.ringDelayMs, signal);
  const ring = ctx.ring();
  const ranges = ring.rangesOf(ctx.self);
  progress.set({ phase: 'streaming', rangesTotal: ranges.length });
  for (const range of ranges) {
    const targets = ring.pending(range.end);
    const done = new Set<string>();
    await retry(ctx, progress, signal, async () => {
      for (const target of targets) {
        if (done.has(target)) continue;
        try {
          await pushRange(ctx.stream, target, range, 'stream', (m) => progress.moved(m), signal);
          done.add(target);
        } catch (err) {
          progress.set({ error: `${target}: ${describeError(err)}` });
        }
      }
      if (done.size < targets.length) {
        throw new KvError(
          'UNAVAILABLE',
          `range ${describe(range)} reached ${done.size} of its ${targets.length} new replicas`,
        );
      }
    });
    progress.set({ rangesDone: progress.value.rangesDone + 1 });
  }
  progress.set({ phase: 'done' });
  return progress.value;
}

/**
 * Streams the ranges of `removed`, a dead node that `removenode` takes off the ring, to their
 * future replicas (the ring's pending nodes of each range, with `removed` announced `removing` and
 * so read as `leaving`), after `ringDelayMs` so that writes made meanwhile reach them too. The
 * removed node cannot send its data, so each new owner gets each range from `rf - quorum + 1` live
 * surviving replicas, copied through this node: every write acknowledged at QUORUM is on one of
 * them (as a join pulls it).
 *
 * @throws KvError UNAVAILABLE when a range cannot be copied from enough replicas after `attempts`
 */
export async function streamRemoval(
  ctx: ElasticContext,
  removed: string,
  onProgress?: (p: StreamProgress) => void,
  signal?: AbortSignal,
): Promise<StreamProgress> {
  const progress = new Progress('removenode', onProgress);
  await sleep(ctx.clock, ctx.ringDelayMs, signal);
  const ring = ctx.ring();
  const ranges = ring.rangesOf(removed);
  progress.set({ phase: 'streaming', rangesTotal: ranges.length });
  const quorum = requiredReplicas('QUORUM', ring.rf);
  const stream = { ...ctx.stream, self: ctx.self };
  for (const range of ranges) {
    const sources = ring.replicas(range.end).filter((n) => n !== removed);
    const needed = Math.min(sources.length, ring.rf - quorum + 1);
    const targets = ring.pending(range.end);
    const done = new Set<string>();
    await retry(ctx, progress, signal, async () => {
      for (const target of targets) {
        let copied = 0;
        for (const source of sources) {
          const pair = `${source}>${target}`;
          if (done.has(pair)) {
            copied++;
            continue;
          }
          if (copied >= needed || !ctx.isAlive(source)) continue;
          try {
            await copyRange(stream, source, target, range, (m) => progress.moved(m), signal);
            done.add(pair);
            copied++;
          } catch (err) {
            progress.set({ error: `${source} to ${target}: ${describeError(err)}` });
          }
        }
        if (copied < needed) {
          throw new KvError(
            'UNAVAILABLE',
            `range ${describe(range)} reached ${target} from ${copied} of the ${needed} replicas it needs`,
          );
        }
      }
    });
    progress.set({ rangesDone: progress.value.rangesDone + 1 });
  }
  progress.set({ phase: 'done' });
  return progress.value;
}

async function retry(
  ctx: ElasticContext,
  progress: Progress,
  signal: AbortSignal | undefined,
  attempt: () => Promise<void>,
): Promise<void> {
  for (let i = 1; ; i++) {
    signal?.throwIfAborted();
    try {
      await attempt();
      return;
    } catch (err) {
      if (i >= ctx.attempts) {
        progress.set({ phase: 'failed', error: describeError(err) });
        throw err;
      }
      ctx.logger.info({ attempt: i, err: describeError(err) }, 'range streaming will retry');
      await sleep(ctx.clock, Math.max(100, ctx.ringDelayMs), signal);
    }
  }
}

function describe(r: TokenRange): string {
  return `(${r.start}, ${r.end}]`;
}
