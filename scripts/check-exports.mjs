#!/usr/bin/env node
// Checks that every subpath export of package.json resolves to a built file and imports cleanly,
// and that the `bin` entry exists. Run after `npm run build` (the `check:exports` script does both).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const failures = [];
for (const [subpath, target] of Object.entries(pkg.exports)) {
  for (const kind of ['types', 'import']) {
    const file = join(root, target[kind]);
    if (!existsSync(file))
      failures.push(`${pkg.name}/${subpath.slice(2)}: ${kind} file ${target[kind]} is missing`);
  }
  try {
    const mod = await import(pathToFileURL(join(root, target.import)).href);
    if (Object.keys(mod).length === 0) failures.push(`${pkg.name}/${subpath.slice(2)}: exports nothing`);
  } catch (err) {
    failures.push(`${pkg.name}/${subpath.slice(2)}: import failed: ${err.message}`);
  }
}
for (const [name, file] of Object.entries(pkg.bin)) {
  if (!existsSync(join(root, file))) failures.push(`bin ${name}: ${file} is missing`);
}
if (failures.length > 0) {
  process.stderr.write(`${failures.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  `all ${Object.keys(pkg.exports).length} exports and ${Object.keys(pkg.bin).length} bin resolve\n`,
);
