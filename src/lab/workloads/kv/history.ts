import { CairnError } from '../../../core/index.js';
import type { TimelineEvent } from '../membership/history.js';

/**
 * What a kv run records and its checker reads: every client call through the Redis protocol with
 * its invocation, completion and outcome, the final reads after the heal as reads of their own,
 * and what the nemesis did. The same shape is saved as `history.json` (no symbols or infinities:
 * an unanswered call has `ret` null), so `npm run lab -- check <dir>` reads it back unchanged.
 */

/** A call's outcome: `ok`; `fail` (certainly not applied); `unknown` (may be applied, now or later). */
export type KvOutcome = 'ok' | 'fail' | 'unknown';

/** Consistency level of a call (the store's). */
export type KvLevel = 'ONE' | 'QUORUM' | 'ALL';

/** One recorded call. */
export interface KvOp {
  /** Unique, in invocation order. */
  id: number;
  /** Client id; final reads use {@link FINAL_CLIENT_BASE} plus the node index. */
  client: number;
  /** The node (host index) the call went to: its coordinator. */
  node: number;
  key: string;
  /** `set` (SET key value), `get` (GET, or one key of a final MGET), `del` (DEL key). */
  type: 'set' | 'get' | 'del';
  level: KvLevel;
  /** The value a `set` writes: unique in the run, it names the write (`c<client>-<seq>`). */
  value?: string;
  /** Invoked, ms since the run epoch. */
  call: number;
  /** Answered, ms since the run epoch; null when no answer came (unknown outcome). */
  ret: number | null;
  outcome: KvOutcome;
  /** A `get` that succeeded: the value read, null when absent. */
  read?: string | null;
  /** A `del` that succeeded: its reply (live keys its read found). */
  deleted?: number;
  /** A failed or unknown call: the error's kind (see the client's `classifyKvError`). */
  error?: string;
}

/** A node that could not be read at one level after the heal. */
export interface KvFinalFailure {
  node: number;
  level: KvLevel;
  /** ms since the run epoch. */
  at: number;
  error: string;
}

/** The history of a kv run. */
export interface KvHistory {
  /** Number of hosts. */
  nodes: number;
  /** Every call, the final reads included. */
  ops: KvOp[];
  /** Nodes that could not be read after the heal. */
  finalFailures: KvFinalFailure[];
  /**
   * True when every node's hints were delivered and anti-entropy completed its rounds after the
   * heal, before the final reads: only then must reads at ONE agree across nodes.
   */
  repaired: boolean;
  /** How repair went (a sentence for the report). */
  repair: string;
  /**
   * Clock slack, ms: a write that completed more than this before another was invoked has the
   * lower version (the store's versions follow its nodes' clocks within `maxClockOffsetMs`).
   */
  slackMs: number;
  /** Failed and unknown calls by error kind. */
  errors: Record<string, number>;
  /** The first error message seen of each kind (what the store said). */
  errorSamples?: Record<string, string>;
  /** Faults started, by kind. */
  faultCounts: Record<string, number>;
  /** Every fault start and end. */
  timeline: TimelineEvent[];
  /** Nodes running with a shifted clock, and when. */
  skews: { node: number; from: number; to: number }[];
}

/** Client ids of the final reads: this plus the node index. */
export const FINAL_CLIENT_BASE = 1000;

/** The file of a run's log directory that holds its history. */
export const KV_HISTORY_FILE = 'history.json';

/** What {@link KV_HISTORY_FILE} holds for a kv run. */
export interface SavedKvHistory {
  workload: 'kv';
  history: KvHistory;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const TYPES = new Set(['set', 'get', 'del']);
const LEVELS = new Set(['ONE', 'QUORUM', 'ALL']);
const OUTCOMES = new Set(['ok', 'fail', 'unknown']);

function validOp(x: unknown): x is KvOp {
  if (!isObject(x)) return false;
  const ok =
    Number.isSafeInteger(x.id) &&
    Number.isSafeInteger(x.client) &&
    Number.isSafeInteger(x.node) &&
    typeof x.key === 'string' &&
    TYPES.has(x.type as string) &&
    LEVELS.has(x.level as string) &&
    OUTCOMES.has(x.outcome as string) &&
    Number.isFinite(x.call) &&
    (x.ret === null || Number.isFinite(x.ret)) &&
    (x.value === undefined || typeof x.value === 'string') &&
    (x.read === undefined || x.read === null || typeof x.read === 'string') &&
    (x.deleted === undefined || Number.isSafeInteger(x.deleted)) &&
    (x.error === undefined || typeof x.error === 'string');
  if (!ok) return false;
  if (x.type === 'set' && typeof x.value !== 'string') return false;
  if (x.outcome === 'ok' && x.ret === null) return false;
  return !(x.type === 'get' && x.outcome === 'ok' && x.read === undefined);
}

/**
 * A saved kv history, shape-checked (every field the checker reads).
 *
 * @throws CairnError `DECODE_FAILED` naming what is wrong (and the operation's index)
 */
export function loadKvHistory(parsed: Record<string, unknown>, file: string): KvHistory {
  const bad = (what: string) => new CairnError('DECODE_FAILED', `${file} is not a kv history: ${what}`);
  const h = parsed.history;
  if (!isObject(h) || !Number.isSafeInteger(h.nodes) || !Array.isArray(h.ops)) throw bad('no history');
  for (const list of ['finalFailures', 'timeline', 'skews'] as const)
    if (!Array.isArray(h[list])) throw bad(`history.${list} must be a list`);
  if (!isObject(h.errors) || !isObject(h.faultCounts))
    throw bad('history.errors and faultCounts are required');
  if (typeof h.repaired !== 'boolean' || typeof h.repair !== 'string' || !Number.isFinite(h.slackMs))
    throw bad('history.repaired, repair and slackMs are required');
  (h.ops as unknown[]).forEach((op, i) => {
    if (!validOp(op)) throw bad(`operation ${i} is malformed`);
  });
  for (const s of h.skews as unknown[]) {
    if (!isObject(s) || !Number.isSafeInteger(s.node) || !Number.isFinite(s.from) || !Number.isFinite(s.to))
      throw bad('a skew is malformed');
  }
  return h as unknown as KvHistory;
}
