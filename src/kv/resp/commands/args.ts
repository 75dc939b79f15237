import { KvError } from '../../errors.js';
import { CONSISTENCY_LEVELS, type Consistency } from '../../types.js';
import { parseDecimal } from '../parser.js';
import { errorReply, type Reply } from '../reply.js';

/** Argument parsing shared by the commands, with Redis's error texts. */

/** Redis's reply to an argument that is not a 64-bit integer. */
export const NOT_INTEGER: Reply = errorReply('ERR value is not an integer or out of range');
/** Redis's reply to misplaced or unknown options. */
export const SYNTAX_ERROR: Reply = errorReply('ERR syntax error');

/** An integer argument (Redis's string2ll), or undefined; limited to JavaScript's safe integers. */
export function parseInteger(arg: Uint8Array): number | undefined {
  const n = parseDecimal(arg, 0, arg.length);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Whether `arg` equals `word` ignoring ASCII case (`word` lowercase). */
export function is(arg: Uint8Array, word: string): boolean {
  if (arg.length !== word.length) return false;
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!;
    const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    if (lower !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** An argument as text (names, patterns in messages). */
export function text(arg: Uint8Array): string {
  return Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength).toString('utf8');
}

/** Redis's wrong-arity reply for `name` (lowercase, `parent|sub` for a subcommand). */
export function wrongArity(name: string): Reply {
  return errorReply(`ERR wrong number of arguments for '${name}' command`);
}

/** Whether `argc` satisfies Redis arity `arity`. */
export function arityOk(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}

/** A consistency level argument, case-insensitive. @throws KvError INVALID_ARGUMENT */
export function parseConsistency(arg: Uint8Array): Consistency {
  const upper = text(arg).toUpperCase();
  const level = CONSISTENCY_LEVELS.find((l) => l === upper);
  if (level === undefined)
    throw new KvError(
      'INVALID_ARGUMENT',
      `unknown consistency level '${text(arg).slice(0, 64)}' (ONE, QUORUM or ALL)`,
    );
  return level;
}

/** The millisecond clock reading commands use (integer, like Redis's mstime). */
export function nowMs(clock: { now(): number }): number {
  return Math.floor(clock.now());
}

/** The latest time a TTL may reach: JavaScript's Date range, so any expiry prints as a date. */
export const MAX_TIME_MS = 8.64e15;
