// A node:test reporter that sums the durations of each file's top-level tests and prints the files
// slowest first with their share of the total: where the time of a test run goes. Use it next to
// the usual reporter:
//
//   node scripts/test.mjs src test/system test/sim -- --test-reporter=spec \
//     --test-reporter-destination=stdout --test-reporter=./scripts/test-durations.mjs \
//     --test-reporter-destination=durations.txt
//
// Durations are the test runner's own (`duration_ms` of each top-level test), so they leave out
// the time a file takes to load; with concurrency above 1 they overlap and add up to more than
// the wall time.
import { relative } from 'node:path';

export default async function* durations(source) {
  const byFile = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.nesting !== 0) continue;
    const file = event.data.file === undefined ? '(unknown)' : relative(process.cwd(), event.data.file);
    byFile.set(file, (byFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
  }
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  const rows = [...byFile].sort((a, b) => b[1] - a[1]);
  yield `${'seconds'.padStart(8)}  ${'share'.padStart(6)}  file\n`;
  for (const [file, ms] of rows) {
    const share = total === 0 ? 0 : (100 * ms) / total;
    yield `${(ms / 1000).toFixed(1).padStart(8)}  ${share.toFixed(1).padStart(5)}%  ${file}\n`;
  }
  yield `${(total / 1000).toFixed(1).padStart(8)}  100.0%  total of ${rows.length} files\n`;
}
