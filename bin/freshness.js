/**
 * Whether the build in `dist/` is older than the TypeScript under `src/`: shared by the `cairn`
 * executable (which then runs the source through tsx) and `npm start` (which then builds).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Files visited at most: a source tree, not a disk. */
const MAX_ENTRIES = 20000;

/** Newest modification time (ms) of a `.ts` file under `dir`; 0 when there is none. */
export function newestSourceMtime(dir) {
  let newest = 0;
  let budget = MAX_ENTRIES;
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

/** True when `builtFile` is missing or older than the newest `.ts` file under `sourceDir`. */
export function isStale(builtFile, sourceDir) {
  return !existsSync(builtFile) || newestSourceMtime(sourceDir) > statSync(builtFile).mtimeMs;
}
