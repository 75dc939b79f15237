import { CairnError, Rng, type Seed } from '../core/index.js';

/**
 * Reads a seed from text (a command line flag or `CAIRN_SEED`): decimal integers become numbers,
 * anything else stays a string. `--seed 42` and `{ seed: 42 }` therefore give the same run.
 *
 * @param text - the seed as given
 * @throws CairnError `INVALID_ARGUMENT` for an empty seed
 */
export function parseSeed(text: Seed): Seed {
  if (typeof text === 'number') return text;
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new CairnError('INVALID_ARGUMENT', 'a seed cannot be empty');
  if (/^-?\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (Number.isSafeInteger(n)) return n;
  }
  return trimmed;
}

/**
 * The seed of a run: `CAIRN_SEED` when set (so a printed replay command works), otherwise a fresh
 * random one. Print it before the run starts.
 */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): Seed {
  const raw = env.CAIRN_SEED;
  return raw === undefined || raw.trim() === '' ? Rng.randomSeed() : parseSeed(raw);
}
