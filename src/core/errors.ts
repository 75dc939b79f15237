/**
 * Typed errors with stable codes.
 *
 * Every error Cairn throws on purpose is a {@link CairnError}. Its `code` is part of the public
 * contract: callers branch on it, and it never changes meaning once released. The message is a
 * sentence with context for humans; the `cause` chains the underlying error when there is one.
 */

/** Every stable error code, grouped by the brick that raises it. */
export const ERROR_CODES = [
  // core
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'DECODE_FAILED',
  'LIMIT_EXCEEDED',
  'ASSERTION_FAILED',
  'TIMEOUT',
  'CANCELLED',
  'CLOSED',
  'NOT_FOUND',
  'IO_ERROR',
  'INTERNAL',
  // security
  'IDENTITY_INVALID',
  'SIGNATURE_INVALID',
  'DECRYPT_FAILED',
  'TOKEN_MALFORMED',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_REVOKED',
  'TOKEN_DENIED',
  // transport
  'TRANSPORT_UNREACHABLE',
  'TRANSPORT_CLOSED',
  'TRANSPORT_FRAME_TOO_LARGE',
  'TRANSPORT_PACKET_TOO_LARGE',
  'TRANSPORT_BACKPRESSURE',
  // sim
  'SIM_DISK_FAULT',
  'SIM_NODE_DOWN',
  'SIM_CHECK_FAILED',
  // rpc
  'RPC_DEADLINE_EXCEEDED',
  'RPC_CANCELLED',
  'RPC_OVERLOADED',
  'RPC_REMOTE_ERROR',
  'RPC_UNKNOWN_METHOD',
  'RPC_CONNECTION_LOST',
  // membership
  'MEMBERSHIP_NOT_JOINED',
  'MEMBERSHIP_UNKNOWN_NODE',
  'MEMBERSHIP_RECORD_REJECTED',
  // node / cli
  'AGENT_CONFIG_INVALID',
  'AGENT_START_FAILED',
] as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

/** Options for {@link CairnError}. */
export interface CairnErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured context for logs (field names, limits, addresses). Never secrets. */
  details?: Record<string, unknown>;
}

/**
 * The one error class Cairn throws on purpose.
 *
 * @example
 * ```ts
 * throw new CairnError('LIMIT_EXCEEDED', `frame of ${n} bytes is over maxFrameBytes=${max}`);
 * ```
 */
export class CairnError extends Error {
  override readonly name = 'CairnError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CairnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** A plain object for logs and for carrying an error across the wire. */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `err` is a {@link CairnError}, optionally with the given code. */
export function isCairnError(err: unknown, code?: ErrorCode): err is CairnError {
  return err instanceof CairnError && (code === undefined || err.code === code);
}

/** True when `code` is one of {@link ERROR_CODES}; used when decoding errors from the wire. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && CODE_SET.has(code);
}

/** A short description of any thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof CairnError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
