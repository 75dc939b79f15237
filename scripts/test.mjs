#!/usr/bin/env node
// Test runner: `node scripts/test.mjs [--allow-empty] <dir|file>...` finds every `*.test.ts` under
// the given folders and runs them with node's test runner through tsx. Node 20's `--test` does not
// expand globs, so the files are listed here. Extra node test flags can follow `--`.
//
// A folder or file that does not exist, or a folder with no test files, is an error (exit 1 with a
// message naming it): a script that runs nothing must not pass as if it had tested something.
// `--allow-empty` accepts folders without tests (they are named on stderr), for callers that
// run a folder before it has any.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const own = split === -1 ? argv : argv.slice(0, split);
const extra = split === -1 ? [] : argv.slice(split + 1);
const allowEmpty = own.includes('--allow-empty');
const dirs = own.filter((a) => a !== '--allow-empty');

function walk(dir, out) {
  if (!statSync(dir).isDirectory()) {
    if (dir.endsWith('.test.ts')) out.push(relative(process.cwd(), dir));
    return out;
  }
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(process.cwd(), path));
  }
  return out;
}

function fail(message) {
  process.stderr.write(`scripts/test.mjs: ${message}\n`);
  process.exit(1);
}

if (dirs.length === 0) fail('name at least one folder or *.test.ts file to run');
const files = [];
const empty = [];
for (const dir of dirs) {
  let found;
  try {
    found = walk(dir, []);
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code ?? err.message})`;
    fail(`${dir} ${why}; no tests were run`);
  }
  if (found.length === 0) empty.push(dir);
  files.push(...found);
}
if (empty.length > 0) {
  const message = `no *.test.ts files under ${empty.join(', ')}`;
  if (!allowEmpty) fail(`${message}; no tests were run (pass --allow-empty to accept that)`);
  process.stderr.write(`scripts/test.mjs: ${message} (allowed by --allow-empty)\n`);
}
if (files.length === 0) process.exit(0);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.CAIRN_TEST_CONCURRENCY ?? 2}`,
    ...extra,
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
