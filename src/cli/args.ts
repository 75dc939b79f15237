import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * Argument parsing for `cairn` on `node:util` `parseArgs` (no dependency), with errors a person
 * can act on and the exit codes every command shares.
 */

/** Exit codes of every `cairn` command. */
export const EXIT = Object.freeze({
  /** Success, including a clean shutdown on SIGINT/SIGTERM. */
  ok: 0,
  /** A runtime failure: a port in use, a node that did not start, a shutdown that timed out. */
  failure: 1,
  /** A usage error: unknown flag or command, bad flag value, invalid configuration. */
  usage: 2,
});

/**
 * A command line the user must fix. The CLI prints its message and exits {@link EXIT}.usage.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  /**
   * @param message - what is wrong, as a sentence naming the flag or argument
   * @param command - the command, for the "see `cairn help <command>`" hint
   */
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

/** The option table `parseArgs` takes. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flag values, by flag name. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses `args` strictly: unknown flags, missing values and unexpected positionals throw a
 * {@link UsageError} that names the flag.
 *
 * @param command - the command name for messages (`agent`, `sim ping`)
 * @param args - the arguments after the command name
 * @param options - the flags the command takes
 * @param maxPositionals - how many positional arguments are allowed; default 0
 */
export function parseFlags(
  command: string,
  args: readonly string[],
  options: Options,
  maxPositionals = 0,
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: maxPositionals > 0 }) as {
      values: Values;
      positionals: string[];
    };
  } catch (err) {
    throw new UsageError(describeParseError(err, command), command);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`, command);
  }
  return parsed;
}

function describeParseError(err: unknown, command: string): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${quoted ?? ''} for "cairn ${command}"`.replace('  ', ' ');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return quoted?.includes('<value>')
        ? `flag ${quoted.replace(' <value>', '')} needs a value`
        : `flag ${quoted ?? ''} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted ?? ''}"`;
    default:
      return message;
  }
}

/** The last value of a string flag (a repeated flag keeps the last), or `undefined`. */
export function stringFlag(values: Values, name: string): string | undefined {
  const raw = values[name];
  const last = Array.isArray(raw) ? raw.at(-1) : raw;
  return typeof last === 'string' ? last : undefined;
}

/**
 * An integer flag within bounds.
 *
 * @throws UsageError `flag --nodes must be an integer 1-100, got "x"`
 */
export function intFlag(
  command: string,
  values: Values,
  name: string,
  bounds: { min: number; max: number; default: number },
): number {
  const text = stringFlag(values, name);
  if (text === undefined) return bounds.default;
  const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < bounds.min || n > bounds.max) {
    throw new UsageError(
      `flag --${name} must be an integer ${bounds.min}-${bounds.max}, got "${text}"`,
      command,
    );
  }
  return n;
}

/**
 * A number flag within bounds.
 *
 * @throws UsageError `flag --loss must be a number 0-1, got "x"`
 */
export function numberFlag(
  command: string,
  values: Values,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(n) || n < bounds.min || n > bounds.max) {
    throw new UsageError(
      `flag --${name} must be a number ${bounds.min}-${bounds.max}, got "${text}"`,
      command,
    );
  }
  return n;
}
