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
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

/** Newest modification time of a .ts file under `dir` (bounded walk: a source tree, not a disk). */
function newestSourceMtime(dir) {
  let newest = 0;
  let budget = 20000;
  const stack = [dir];
  while (stack.length > 0 && budget-- > 0) {
    const current = stack.pop();
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

function choose() {
  const hasSource = existsSync(source);
  if (process.env.CAIRN_FROM_SOURCE === '1' && hasSource) return 'source';
  if (!existsSync(built)) return hasSource ? 'source' : 'missing';
  if (!hasSource) return 'built';
  return newestSourceMtime(join(root, 'src')) > statSync(built).mtimeMs ? 'source' : 'built';
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
