import { CairnError, type ErrorCode, isErrorCode } from '../core/index.js';

/**
 * Error mapping between a handler and its caller.
 *
 * What crosses the wire is a code and a message, nothing else: no stack, no `details`, no cause.
 * A handler that throws a {@link CairnError} is answered with that error's code and message, and
 * the caller re-throws a CairnError with the same code. Anything else a handler throws is answered
 * with `RPC_REMOTE_ERROR` and a generic sentence naming the method and the error's class, because
 * a foreign error's message may carry internals (paths, queries, secrets) that must not leak.
 */

/** The code and message of an error as carried by an `error` message. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

/**
 * Cuts `text` to `maxLength` characters, marking the cut. Error text is for humans; cutting it is
 * a display decision, not a loss of protocol information (the code is never cut).
 */
export function clipMessage(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const mark = '...';
  return maxLength <= mark.length
    ? text.slice(0, maxLength)
    : `${text.slice(0, maxLength - mark.length)}${mark}`;
}

/**
 * What the server sends for an error thrown by the handler of `method`.
 *
 * @param err - whatever the handler threw or rejected with
 * @param method - the method name, for the generic message of a non-Cairn error
 * @param maxMessageLength - the message is cut to this many characters
 */
export function toWireError(err: unknown, method: string, maxMessageLength: number): WireError {
  if (err instanceof CairnError) {
    return { code: err.code, message: clipMessage(err.message, maxMessageLength) };
  }
  const kind = err instanceof Error ? err.name : typeof err;
  return {
    code: 'RPC_REMOTE_ERROR',
    message: clipMessage(`the handler of method "${method}" failed with ${kind}`, maxMessageLength),
  };
}

/**
 * The error a caller re-throws for an `error` message from the peer. Its `details` carry
 * `{ remote: true, method, address }`, so a caller can tell a code raised by the peer (say, an
 * RPC_CONNECTION_LOST that the peer's own downstream call hit) from one raised locally.
 *
 * @param wire - the received code and message
 * @param method - the method that was called
 * @param address - the peer's address
 */
export function fromWireError(wire: WireError, method: string, address: string): CairnError {
  const details = { remote: true, method, address };
  if (isErrorCode(wire.code)) return new CairnError(wire.code, wire.message, { details });
  return new CairnError(
    'RPC_REMOTE_ERROR',
    `${address} answered "${method}" with unknown error code "${wire.code}": ${wire.message}`,
    { details: { ...details, code: wire.code } },
  );
}

/** A local error for a call: the same shape callers branch on, with the call's context in details. */
export function callError(
  code: ErrorCode,
  message: string,
  method: string,
  address: string,
  cause?: unknown,
): CairnError {
  return new CairnError(code, message, {
    details: { method, address },
    ...(cause === undefined ? {} : { cause }),
  });
}
