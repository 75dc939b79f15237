import { CairnError, type Rng } from '../core/index.js';

/**
 * One-way latency distributions of simulated links, in virtual milliseconds.
 *
 * Jitter is what reorders packets: two packets on one link with independently drawn latencies
 * arrive in either order. Stream frames draw a latency too, but their delivery times are kept
 * monotonic per direction, so streams never reorder.
 */
export type Latency =
  /** Always `ms`. */
  | { readonly kind: 'constant'; readonly ms: number }
  /** Uniform in `[minMs, maxMs)`. */
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /** Normal around `meanMs`, cut below at `minMs` (default 0). */
  | { readonly kind: 'normal'; readonly meanMs: number; readonly stddevMs: number; readonly minMs?: number }
  /** `minMs` plus an exponential tail with mean `meanMs`: most packets fast, a few very late. */
  | { readonly kind: 'exponential'; readonly meanMs: number; readonly minMs?: number };

/** The default link latency: uniform 0.5 to 2 ms, a busy LAN. */
export const DEFAULT_LATENCY: Latency = Object.freeze({ kind: 'uniform', minMs: 0.5, maxMs: 2 });

function nonNegative(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
    throw new CairnError('INVALID_CONFIG', `latency ${name} must be a finite number >= 0, got ${value}`);
  }
}

/**
 * Checks a latency distribution, throwing `INVALID_CONFIG` naming the bad field.
 *
 * @param latency - the distribution to check
 */
export function validateLatency(latency: Latency): Latency {
  switch (latency.kind) {
    case 'constant':
      nonNegative('ms', latency.ms);
      break;
    case 'uniform':
      nonNegative('minMs', latency.minMs);
      nonNegative('maxMs', latency.maxMs);
      if (latency.maxMs < latency.minMs) {
        throw new CairnError(
          'INVALID_CONFIG',
          `latency maxMs ${latency.maxMs} is below minMs ${latency.minMs}`,
        );
      }
      break;
    case 'normal':
      nonNegative('meanMs', latency.meanMs);
      nonNegative('stddevMs', latency.stddevMs);
      nonNegative('minMs', latency.minMs);
      break;
    case 'exponential':
      nonNegative('meanMs', latency.meanMs);
      nonNegative('minMs', latency.minMs);
      break;
    default:
      throw new CairnError(
        'INVALID_CONFIG',
        `unknown latency kind ${JSON.stringify((latency as { kind: unknown }).kind)}`,
      );
  }
  return latency;
}

/**
 * Draws one latency from `latency` with `rng`. Constant latencies draw nothing, so switching a
 * link to a constant latency does not consume random numbers.
 *
 * @returns milliseconds, >= 0
 */
export function sampleLatency(latency: Latency, rng: Rng): number {
  switch (latency.kind) {
    case 'constant':
      return latency.ms;
    case 'uniform':
      return latency.minMs + rng.float() * (latency.maxMs - latency.minMs);
    case 'normal':
      return Math.max(latency.minMs ?? 0, rng.normal(latency.meanMs, latency.stddevMs));
    case 'exponential':
      return (latency.minMs ?? 0) + rng.exponential(latency.meanMs);
  }
}

/** A short text form of a latency, for run headers. */
export function describeLatency(latency: Latency): string {
  switch (latency.kind) {
    case 'constant':
      return `${latency.ms}ms`;
    case 'uniform':
      return `uniform(${latency.minMs}..${latency.maxMs}ms)`;
    case 'normal':
      return `normal(${latency.meanMs}±${latency.stddevMs}ms)`;
    case 'exponential':
      return `${latency.minMs ?? 0}ms+exp(${latency.meanMs}ms)`;
  }
}
