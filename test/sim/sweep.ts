import type { Seed } from '../../src/core/index.js';
import { parseSeed } from '../../src/sim/index.js';

/** How the simulation tests pick their seeds from the environment (membership, store and kv alike). */

/** True when the long sweep was asked for (`CAIRN_LONG=1`). */
export const LONG = process.env.CAIRN_LONG === '1';

/**
 * The seeds to run: `CAIRN_SEED` alone if set, else `long` or `short` seeds (`CAIRN_SEEDS`
 * overrides the count) from `CAIRN_SEED_START` (default 1).
 */
export function sweepSeeds(short: number, long: number): Seed[] {
  const env = process.env.CAIRN_SEED;
  if (env !== undefined && env.trim() !== '') return [parseSeed(env)];
  const count = Number(process.env.CAIRN_SEEDS ?? (LONG ? long : short));
  const start = Number(process.env.CAIRN_SEED_START ?? 1);
  return Array.from({ length: count }, (_, i) => start + i);
}

/**
 * `seeds` plus the `regressions` it does not hold, unless one seed is replayed (`CAIRN_SEED`):
 * seeds that once found a bug run with every sweep after the fix.
 */
export function withRegressions(seeds: readonly Seed[], regressions: readonly Seed[]): Seed[] {
  const env = process.env.CAIRN_SEED;
  if (env !== undefined && env.trim() !== '') return [...seeds];
  const have = new Set(seeds.map(String));
  return [...seeds, ...regressions.filter((s) => !have.has(String(s)))];
}

/**
 * The command that replays `seed` of `file` (with `CAIRN_LONG=1` when the long sweep found it),
 * narrowed to the test `name` when one is given.
 */
export function replayCommand(file: string, seed: Seed, name?: string): string {
  const pattern = name === undefined ? '' : ` --test-name-pattern=${JSON.stringify(name)}`;
  return `CAIRN_SEED=${String(seed)}${LONG ? ' CAIRN_LONG=1' : ''} node --import tsx --test${pattern} ${file}`;
}
