import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO } from './agent-helpers.js';

/**
 * `scripts/test.mjs`, the runner behind `npm test`, `test:long` and `test:e2e`: a folder without
 * tests, or one that does not exist, fails with a message instead of passing having run nothing.
 */

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}

function runScript(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(REPO, 'scripts', 'test.mjs'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    // Without NODE_TEST_CONTEXT the inner runner reports in text, not to this runner.
    env: { ...withoutTestContext(process.env), CAIRN_TEST_CONCURRENCY: '1' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/test.mjs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-test-script-'));
    await mkdir(join(dir, 'empty'));
    await mkdir(join(dir, 'one'));
    await writeFile(
      join(dir, 'one', 'a.test.ts'),
      "import { it } from 'node:test';\nit('passes', () => {});\n",
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails naming a folder that has no test files, or does not exist', () => {
    const empty = runScript([join(dir, 'empty')]);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /no \*\.test\.ts files under .*empty; no tests were run/);
    const missing = runScript([join(dir, 'e2e')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /e2e does not exist; no tests were run/);
  });

  it('with --allow-empty accepts an empty folder, says so, and still runs the others', () => {
    const result = runScript(['--allow-empty', join(dir, 'empty'), join(dir, 'one')]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /no \*\.test\.ts files under .*empty \(allowed by --allow-empty\)/);
    assert.match(result.stdout, /# pass 1/);
  });
});
