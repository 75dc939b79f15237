import { CairnError, type Storage } from '../core/index.js';

/**
 * Where a node keeps the last generation it announced, across restarts.
 *
 * A node's generation must be strictly greater than any earlier one of the same node (DESIGN.md,
 * Identities and ordering): peers order everything about a node by it first, so a restarted node
 * whose generation is lower than its last run's is ignored until that run is forgotten. A clock is
 * not enough: one stepped back across a restart (an hour, say) left a node dead to its peers for
 * as long as they remembered it.
 */
export interface GenerationStore {
  /** The last generation saved, or undefined when none was. */
  load(): Promise<number | undefined>;
  /** Saves `generation` durably: once this resolves, a crash does not lose it. */
  save(generation: number): Promise<void>;
}

/** Largest generation: integers beyond 2^53 lose precision and could repeat. */
const MAX_GENERATION = Number.MAX_SAFE_INTEGER;

/**
 * The generation of a new run: `max(floor(nowMs), last + 1)`, at least 1.
 *
 * @param nowMs - the clock, epoch milliseconds (a generation reads as the run's start time)
 * @param last - the last generation of this node, when known
 * @example
 * ```ts
 * nextGeneration(1_000.7);          // 1000
 * nextGeneration(1_000, 5_000);     // 5001: the clock went back, the generation does not
 * ```
 */
export function nextGeneration(nowMs: number, last?: number): number {
  const next = Math.max(1, Math.floor(nowMs), last === undefined ? 0 : last + 1);
  if (!Number.isSafeInteger(next) || next > MAX_GENERATION) {
    throw new CairnError('LIMIT_EXCEEDED', `generation ${next} is beyond ${MAX_GENERATION}`);
  }
  return next;
}

/**
 * Chooses this run's generation with {@link nextGeneration} and saves it before returning, so the
 * node never announces a generation that a crash could make it repeat.
 *
 * @throws CairnError `DECODE_FAILED` when the stored value is not a generation; the store's errors
 */
export async function claimGeneration(store: GenerationStore, nowMs: number): Promise<number> {
  const last = await store.load();
  if (last !== undefined && (!Number.isSafeInteger(last) || last < 0)) {
    throw new CairnError('DECODE_FAILED', `the stored generation ${String(last)} is not an integer >= 0`);
  }
  const generation = nextGeneration(nowMs, last);
  await store.save(generation);
  return generation;
}

/** The storage key {@link storageGenerationStore} uses by default. */
export const GENERATION_KEY = new TextEncoder().encode('membership/generation');

/**
 * A {@link GenerationStore} in a {@link Storage} (the simulator's disk, which keeps synced writes
 * across a node's restarts): the generation as a decimal string under `key`, written with
 * `sync: true`.
 *
 * @param key - default {@link GENERATION_KEY}
 * @example
 * ```ts
 * const m = await Membership.create({ ..., generationStore: storageGenerationStore(ctx.disk) });
 * ```
 */
export function storageGenerationStore(storage: Storage, key: Uint8Array = GENERATION_KEY): GenerationStore {
  return {
    async load() {
      const bytes = await storage.get(key);
      return bytes === undefined ? undefined : parseGeneration(new TextDecoder().decode(bytes));
    },
    async save(generation) {
      await storage.batch([{ type: 'put', key, value: new TextEncoder().encode(String(generation)) }], {
        sync: true,
      });
    },
  };
}

/**
 * Reads a stored generation: decimal digits only (at most 16, a safe integer).
 *
 * @throws CairnError `DECODE_FAILED` naming the text
 */
export function parseGeneration(text: string): number {
  const trimmed = text.trim();
  const value = /^[0-9]{1,16}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new CairnError(
      'DECODE_FAILED',
      `a stored generation must be decimal digits, got ${JSON.stringify(trimmed.slice(0, 40))}`,
    );
  }
  return value;
}
