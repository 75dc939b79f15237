/**
 * Option parsing shared by the benchmarks: a bad value stops the run with a clear message
 * instead of running with NaN or a silly size.
 */

/** `text` as a safe integer in min..max, or an error naming the option. */
export function intOption(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer ${min}..${max}, got ${text}`);
  return n;
}

/** `text` as a finite number in min..max, or an error naming the option. */
export function numberOption(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name} must be a number ${min}..${max}, got ${text}`);
  return n;
}
