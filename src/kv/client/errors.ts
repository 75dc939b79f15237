import { KvError, type KvErrorCode } from '../errors.js';
import type { ReplyError } from './reply-reader.js';

/**
 * How Redis-protocol error replies become {@link KvError}s again: the reverse of the front end's
 * mapping (`-TIMEOUT ...` for a KvError TIMEOUT, `-NOPERM ...` for DENIED, `-ERR ...` for
 * INVALID_ARGUMENT), so a caller of the client branches on the same codes as a caller of a node.
 */

/** A request that never left this process (no connection to the node): safe to retry anywhere. */
export class UnsentError extends KvError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

const SAME_CODE: ReadonlySet<string> = new Set<KvErrorCode>([
  'TIMEOUT',
  'UNAVAILABLE',
  'CLOCK_SKEW',
  'STOPPED',
]);
const DENIED_CODES: ReadonlySet<string> = new Set(['NOPERM', 'WRONGPASS', 'NOAUTH']);

/**
 * The KvError for an error reply from `where` (a node's name or address, quoted in the message).
 *
 * Store codes keep their code; NOPERM, WRONGPASS and NOAUTH are DENIED; `ERR max number of
 * clients reached` and `ERR internal error` are UNAVAILABLE (the node cannot serve the call, the
 * call is not wrong); every other error (`ERR syntax error`, `ERR INCR is not supported`, an
 * unknown Redis code) is INVALID_ARGUMENT.
 */
export function errorFromReply(reply: ReplyError, where: string): KvError {
  const code = reply.code;
  const rest = reply.message.slice(code.length).trimStart();
  const text = `${rest.length > 0 ? rest : reply.message} (${where})`;
  if (SAME_CODE.has(code)) return new KvError(code as KvErrorCode, text);
  if (DENIED_CODES.has(code)) return new KvError('DENIED', `${code} ${text}`);
  if (code === 'ERR' && (rest.startsWith('max number of clients') || rest.startsWith('internal error')))
    return new KvError('UNAVAILABLE', text);
  return new KvError('INVALID_ARGUMENT', code === 'ERR' ? text : `${code} ${text}`);
}

/** True for store refusals that say the coordinator did nothing and another node may do better. */
export function isCoordinatorRefusal(err: unknown): boolean {
  return err instanceof KvError && (err.code === 'STOPPED' || err.code === 'CLOCK_SKEW');
}
