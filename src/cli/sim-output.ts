import { type CliIo, write } from './lifecycle.js';

/**
 * Prints a simulation's result object: with `json`, exactly one JSON line (what scripts parse);
 * otherwise a title and one aligned `key  value` line per field.
 */
export async function writeSimResult(io: CliIo, title: string, result: object, json: boolean): Promise<void> {
  const record: Record<string, unknown> = { ...result };
  if (json) {
    await write(io.stdout, `${JSON.stringify(record)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  const lines = Object.entries(record).map(
    ([k, v]) =>
      `  ${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
  );
  await write(io.stdout, `${title}\n${lines.join('\n')}\n`);
}
