import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isCairnError, systemClock } from '../core/index.js';
import { claimGeneration } from '../membership/generation.js';
import { fileGenerationStore, GENERATION_FILE_NAME, testOffsetClock } from './generation-file.js';

describe('membership generation file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-generation-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps the last generation across runs, so a clock stepped back still gets a newer one', async () => {
    const path = join(dir, 'a', GENERATION_FILE_NAME);
    const store = fileGenerationStore(path);
    assert.equal(await store.load(), undefined);
    const first = await claimGeneration(store, 1_700_000_000_000);
    const second = await claimGeneration(fileGenerationStore(path), 1_700_000_000_000 - 3_600_000);
    assert.equal(second, first + 1);
    assert.deepEqual(await readdir(join(dir, 'a')), [GENERATION_FILE_NAME], 'no temporary file left');
  });

  it('refuses a file that does not hold a generation, naming it', async () => {
    const path = join(dir, 'bad');
    await writeFile(path, 'not a number\n');
    await assert.rejects(fileGenerationStore(path).load(), (e: unknown) => isCairnError(e, 'DECODE_FAILED'));
  });

  it('shifts the clock only when the test-only variable is set', () => {
    assert.equal(testOffsetClock({}), systemClock);
    const behind = testOffsetClock({ CAIRN_TEST_CLOCK_OFFSET_MS: '-3600000' });
    assert.ok(systemClock.now() - behind.now() >= 3_599_000);
    assert.throws(
      () => testOffsetClock({ CAIRN_TEST_CLOCK_OFFSET_MS: 'soon' }),
      (e: unknown) => isCairnError(e, 'INVALID_CONFIG'),
    );
  });
});
