#!/usr/bin/env node
/**
 * The `cairn` executable (the package's `bin`).
 *
 * It runs the built CLI (`dist/cli/main.js`) when that is present and up to date, and the
 * TypeScript source (`src/cli/main.ts`) through tsx otherwise:
 *
 * - installed package: there is no `src/`, so the build runs;
 * - development checkout: the build runs only if it is newer than every file under `src/`, so an
 *   edit is never shadowed by a stale `dist/`; otherwise the source runs through tsx (a
 *   devDependency), registered in this process with `tsx/esm/api` (no second process, signals and
 *   exit codes are the CLI's own);
 * - `CAIRN_FROM_SOURCE=1` forces the source.
 *
 * `cairn dev` starts its agents with the same entry (this file), so they take the same path.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isStale } from './freshness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

function choose() {
  const hasSource = existsSync(source);
  if (process.env.CAIRN_FROM_SOURCE === '1' && hasSource) return 'source';
  if (!existsSync(built)) return hasSource ? 'source' : 'missing';
  if (!hasSource) return 'built';
  return isStale(built, join(root, 'src')) ? 'source' : 'built';
}

const mode = choose();
if (mode === 'missing') {
  process.stderr.write(`cairn: neither ${built} nor ${source} exists; the package is incomplete\n`);
  process.exit(1);
}
if (mode === 'source') {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    register = undefined;
  }
  if (register !== undefined) {
    register();
    await import(pathToFileURL(source).href);
  } else if (existsSync(built)) {
    process.stderr.write(
      'cairn: dist/ is older than src/ and tsx is not installed; running the old build (npm run build)\n',
    );
    await import(pathToFileURL(built).href);
  } else {
    process.stderr.write('cairn: dist/ is missing and tsx is not installed; run "npm run build" first\n');
    process.exit(1);
  }
} else {
  await import(pathToFileURL(built).href);
}
