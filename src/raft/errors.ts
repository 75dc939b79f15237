/**
 * The raft brick's errors. Every error the core, the log or the driver throws on purpose is a
 * {@link RaftError} whose `code` callers branch on; the codes follow etcd-io/raft's exported errors
 * (`ErrProposalDropped`, `ErrCompacted`, ...) plus the driver's outcomes.
 */

/** The stable codes of {@link RaftError}. */
export const RAFT_ERROR_CODES = [
  /** A proposal was not accepted: no leader known, a leader transfer in progress, or over a limit. */
  'PROPOSAL_DROPPED',
  /** No leader is known, so a request that needs one cannot be served now. */
  'NO_LEADER',
  /** The node was stopped. */
  'STOPPED',
  /** A configuration change is already proposed and not yet applied. */
  'CONF_CHANGE_PENDING',
  /** The request must be made on the leader. */
  'NOT_LEADER',
  /** A request did not complete in time. */
  'TIMEOUT',
  /** Stored state is corrupt or inconsistent. */
  'CORRUPT',
  /** The requested index is at or below the last snapshot (the entries are gone). */
  'COMPACTED',
] as const;

/** A stable raft error code; see {@link RAFT_ERROR_CODES}. */
export type RaftErrorCode = (typeof RAFT_ERROR_CODES)[number];

/**
 * An error of the raft brick, with a stable `code`.
 *
 * @example
 * ```ts
 * try { core.propose(data); } catch (err) {
 *   if (err instanceof RaftError && err.code === 'PROPOSAL_DROPPED') retryLater();
 * }
 * ```
 */
export class RaftError extends Error {
  override readonly name = 'RaftError';
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `err` is a {@link RaftError}, optionally with the given code. */
export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}
