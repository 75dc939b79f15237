import fc from 'fast-check';

/**
 * Runs a fast-check property with a seed that is printed on failure together with the one line
 * that replays it: `CAIRN_SEED=<seed> node --import tsx --test <file>`.
 */
export async function checkProperty<T>(
  file: string,
  property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>,
  numRuns = 200,
): Promise<void> {
  const seed =
    process.env.CAIRN_SEED === undefined
      ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
      : Number(process.env.CAIRN_SEED);
  try {
    await fc.assert(property as fc.IAsyncProperty<T>, { seed, numRuns });
  } catch (err) {
    throw new Error(
      `seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test ${file}\n${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
