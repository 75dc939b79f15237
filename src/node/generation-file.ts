import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CairnError, type Clock, systemClock } from '../core/index.js';
import { type GenerationStore, parseGeneration } from '../membership/generation.js';
import { errorCode, syncDirectory, writeSyncedTemporary } from '../security/durable-file.js';

/** The file in the data directory that holds membership's last generation. */
export const GENERATION_FILE_NAME = 'membership.generation';

/**
 * A membership {@link GenerationStore} in one small file (decimal digits): written to a temporary
 * file, flushed, renamed over the old one and the directory flushed, so that a crash leaves the
 * old generation or the new one, never a torn file, and a saved generation survives power loss.
 *
 * @example
 * ```ts
 * const store = fileGenerationStore(join(config.dataDir, GENERATION_FILE_NAME));
 * await Membership.create({ ..., generationStore: store });
 * ```
 */
export function fileGenerationStore(path: string): GenerationStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return undefined;
        throw ioError('read', path, err);
      }
      return parseGeneration(text);
    },
    async save(generation) {
      const dir = dirname(path);
      let temporary: string | undefined;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        temporary = await writeSyncedTemporary(path, `${generation}\n`);
        await rename(temporary, path);
        await syncDirectory(dir);
      } catch (err) {
        if (temporary !== undefined) await unlink(temporary).catch(() => undefined);
        throw ioError('write', path, err);
      }
    },
  };
}

function ioError(action: string, path: string, err: unknown): CairnError {
  return new CairnError(
    'IO_ERROR',
    `cannot ${action} the membership generation file ${path}: ${(err as Error).message}`,
    {
      cause: err,
      details: { path },
    },
  );
}

/**
 * FOR TESTS ONLY: the environment variable that shifts the agent's membership clock by a number of
 * milliseconds (negative: behind), so a system test can restart a node with its clock stepped
 * back. Never set it in production: the clock decides generations and every protocol timestamp.
 */
export const TEST_CLOCK_OFFSET_ENV = 'CAIRN_TEST_CLOCK_OFFSET_MS';

/**
 * The system clock shifted by `CAIRN_TEST_CLOCK_OFFSET_MS` when that is set (tests only; see
 * {@link TEST_CLOCK_OFFSET_ENV}), else the system clock itself.
 *
 * @throws CairnError `INVALID_CONFIG` when the variable is set but not an integer
 */
export function testOffsetClock(env: NodeJS.ProcessEnv = process.env): Clock {
  const text = env[TEST_CLOCK_OFFSET_ENV];
  if (text === undefined || text === '') return systemClock;
  const offsetMs = Number(text);
  if (!Number.isSafeInteger(offsetMs)) {
    throw new CairnError(
      'INVALID_CONFIG',
      `${TEST_CLOCK_OFFSET_ENV} must be an integer of milliseconds, got ${JSON.stringify(text)}`,
    );
  }
  return {
    now: () => systemClock.now() + offsetMs,
    setTimer: (delayMs, fn) => systemClock.setTimer(delayMs, fn),
    cancel: (handle) => systemClock.cancel(handle),
  };
}
