import { readFileSync } from 'node:fs';

/**
 * The Cairn version, read once from the package's `package.json`.
 *
 * This file sits two levels below the package root both as source (`src/node/`) and built
 * (`dist/node/`), so one relative path works in a checkout and in an installed package.
 */
export const CAIRN_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0-unknown';
  } catch {
    return '0.0.0-unknown';
  }
})();
