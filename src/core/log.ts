import { type LevelWithSilent, type Logger as PinoLogger, pino } from 'pino';

/**
 * Structured JSON logs through `pino`.
 *
 * One root logger per process; each node and brick gets a child with its bindings
 * (`{ node, brick }`), so every line says where it came from. Simulated runs use a silent logger
 * (or a logger bound to the virtual clock) so thousands of nodes cost nothing.
 */

/** The logger type used across Cairn. */
export type Logger = PinoLogger;

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level; default `info`, or `CAIRN_LOG_LEVEL` when set. */
  level?: LevelWithSilent;
  /** Bindings on every line, e.g. `{ node: 'n1' }`. */
  bindings?: Record<string, unknown>;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
  /** Timestamp source in ms (the simulator passes its virtual clock); default wall time. */
  now?: () => number;
}

const LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function levelFromEnv(): LevelWithSilent | undefined {
  const raw = process.env.CAIRN_LOG_LEVEL;
  return raw !== undefined && (LEVELS as readonly string[]).includes(raw)
    ? (raw as LevelWithSilent)
    : undefined;
}

/**
 * Creates a root logger writing one JSON object per line.
 *
 * @example
 * ```ts
 * const log = createLogger({ bindings: { node: 'n1' } }).child({ brick: 'membership' });
 * log.info({ peer }, 'peer joined');
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const now = options.now;
  const opts = {
    level: options.level ?? levelFromEnv() ?? 'info',
    base: options.bindings ?? {},
    ...(now === undefined ? {} : { timestamp: () => `,"time":${Math.round(now())}` }),
  };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}

/** A logger that drops everything; for simulations and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
