/**
 * Benchmark runner: `npm run bench -- <name> [flags]`.
 *
 * Each benchmark is `bench/<name>.ts` exporting `main(argv: string[]): Promise<object>`. The runner
 * prints the returned object as one JSON line on stdout (progress goes to stderr), so results can
 * be piped into other tools. Benchmarks measure; they never pass or fail on a timing.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...argv] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [flags]\navailable: ${available.join(', ')}\n`);
  process.exit(name === undefined ? 0 : 2);
}
const mod = (await import(join(here, `${name}.ts`))) as { main: (argv: string[]) => Promise<object> };
const result = await mod.main(argv);
process.stdout.write(`${JSON.stringify({ bench: name, ...result })}\n`);
// Benchmarks may leave sockets in TIME_WAIT or timers unref'd; end explicitly.
process.exit(0);
