#!/usr/bin/env node
// Test runner: `node scripts/test.mjs <dir|file>...` finds every `*.test.ts` under the given folders and
// runs them with node's test runner through tsx. Node 20's `--test` does not expand globs, so the
// files are listed here. Extra node test flags can follow `--`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const dirs = split === -1 ? argv : argv.slice(0, split);
const extra = split === -1 ? [] : argv.slice(split + 1);

function walk(dir, out) {
  let entries;
  try {
    if (!statSync(dir).isDirectory()) {
      if (dir.endsWith('.test.ts')) out.push(relative(process.cwd(), dir));
      return out;
    }
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(process.cwd(), path));
  }
  return out;
}

const files = dirs.flatMap((d) => walk(d, []));
if (files.length === 0) {
  process.stdout.write(`no test files under ${dirs.join(', ')}\n`);
  process.exit(0);
}
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
