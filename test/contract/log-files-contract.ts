/**
 * The LogFiles contract suite: one set of tests every {@link LogFiles} implementation passes (the
 * real directory, `NodeLogFiles`, and the simulator's `SimFiles`). No sleeps, no timing.
 *
 * `restart` reopens the same directory as a new process would after a clean stop: everything
 * synced (file and directory) must be there. Crash behaviour (what unsynced data a power loss
 * drops) is specific to the simulated files and tested beside them.
 *
 * @example
 * ```ts
 * describeLogFilesContract('node', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'cairn-'));
 *   return { files: await NodeLogFiles.open(dir), restart: () => NodeLogFiles.open(dir), cleanup: () => rm(dir, { recursive: true }) };
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromUtf8, isCairnError, utf8 } from '../../src/core/index.js';
import type { LogFiles } from '../../src/raft/log/files.js';

/** A fresh, empty directory and a way to reopen it. */
export interface LogFilesEnv {
  files: LogFiles;
  /** The same directory, as seen after a clean restart. */
  restart(): Promise<LogFiles>;
  cleanup(): Promise<void>;
}

async function readAll(files: LogFiles, name: string): Promise<string> {
  const f = await files.open(name);
  try {
    return fromUtf8(await f.read(0, f.size));
  } finally {
    await f.close();
  }
}

/** Declares the contract suite for one implementation; `makeEnv` is called once per test. */
export function describeLogFilesContract(name: string, makeEnv: () => Promise<LogFilesEnv>): void {
  const test = (title: string, body: (env: LogFilesEnv) => Promise<void>) =>
    it(title, async () => {
      const env = await makeEnv();
      try {
        await body(env);
      } finally {
        await env.cleanup();
      }
    });

  describe(`LogFiles contract: ${name}`, () => {
    test('a new file is empty; appends accumulate and read back at any offset', async ({ files }) => {
      const f = await files.open('a.wal', { create: true });
      assert.equal(f.size, 0);
      await f.append(utf8('hello '));
      await f.append(utf8('world'));
      assert.equal(f.size, 11);
      assert.equal(fromUtf8(await f.read(0, 11)), 'hello world');
      assert.equal(fromUtf8(await f.read(6, 100)), 'world', 'a read past the end returns what there is');
      assert.equal((await f.read(11, 5)).length, 0);
      await f.close();
      assert.equal(await readAll(files, 'a.wal'), 'hello world', 'a reopened handle sees the size');
    });

    test('creating an existing file is refused; opening or removing a missing one is NOT_FOUND', async ({
      files,
    }) => {
      await (await files.open('x.wal', { create: true })).close();
      await assert.rejects(files.open('x.wal', { create: true }), (e) => isCairnError(e, 'INVALID_ARGUMENT'));
      await assert.rejects(files.open('missing.wal'), (e) => isCairnError(e, 'NOT_FOUND'));
      await assert.rejects(files.remove('missing.wal'), (e) => isCairnError(e, 'NOT_FOUND'));
      await assert.rejects(files.rename('missing.wal', 'y.wal'), (e) => isCairnError(e, 'NOT_FOUND'));
    });

    test('names with path separators or leading dots are refused', async ({ files }) => {
      for (const bad of ['../x', 'a/b', '.hidden', '']) {
        await assert.rejects(
          files.open(bad, { create: true }),
          (e) => isCairnError(e, 'INVALID_ARGUMENT'),
          bad,
        );
      }
    });

    test('list is sorted and follows create, rename and remove', async ({ files }) => {
      for (const n of ['c.wal', 'a.wal', 'b.wal']) await (await files.open(n, { create: true })).close();
      assert.deepEqual(await files.list(), ['a.wal', 'b.wal', 'c.wal']);
      await files.remove('b.wal');
      await files.rename('c.wal', 'd.wal');
      assert.deepEqual(await files.list(), ['a.wal', 'd.wal']);
    });

    test('rename replaces the target', async ({ files }) => {
      const a = await files.open('a.tmp', { create: true });
      await a.append(utf8('new'));
      await a.close();
      const b = await files.open('b.snap', { create: true });
      await b.append(utf8('old content'));
      await b.close();
      await files.rename('a.tmp', 'b.snap');
      assert.deepEqual(await files.list(), ['b.snap']);
      assert.equal(await readAll(files, 'b.snap'), 'new');
    });

    test('truncate cuts the file and appends continue from the cut', async ({ files }) => {
      const f = await files.open('t.wal', { create: true });
      await f.append(utf8('0123456789'));
      await f.truncate(4);
      assert.equal(f.size, 4);
      await f.append(utf8('ab'));
      assert.equal(fromUtf8(await f.read(0, 100)), '0123ab');
      await assert.rejects(f.truncate(100), (e) => isCairnError(e, 'INVALID_ARGUMENT'));
      await f.close();
    });

    test('synced files and directory entries survive a restart', async (env) => {
      const f = await env.files.open('s.wal', { create: true });
      await f.append(utf8('durable'));
      await f.sync();
      await f.close();
      await env.files.syncDirectory();
      const again = await env.restart();
      assert.deepEqual(await again.list(), ['s.wal']);
      assert.equal(await readAll(again, 's.wal'), 'durable');
    });

    test('a closed handle rejects with CLOSED', async ({ files }) => {
      const f = await files.open('c.wal', { create: true });
      await f.close();
      await assert.rejects(f.append(utf8('x')), (e) => isCairnError(e, 'CLOSED'));
      await assert.rejects(f.read(0, 1), (e) => isCairnError(e, 'CLOSED'));
      await f.close(); // idempotent
    });
  });
}
