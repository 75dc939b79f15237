import { CairnError } from '../../../core/index.js';
import { type KvInput, type KvOutput, type Operation, UNKNOWN } from '../../lincheck/index.js';
import type { StoreHistory } from './check.js';

/**
 * A store run's history on disk (`history.json` in the run's log directory), for `npm run lab --
 * check <dir>`. JSON has neither `Infinity` nor symbols: an unknown outcome is saved with `ret`
 * and `output` null, and loading turns them back.
 */

/** The file of a run's log directory that holds its history (the same name for every workload). */
export const STORE_HISTORY_FILE = 'history.json';

/** An operation as saved. */
export interface SavedOperation {
  id: number;
  clientId: number;
  input: KvInput;
  call: number;
  /** null: unknown outcome. */
  ret: number | null;
  /** null: unknown outcome. */
  output: KvOutput | null;
}

/** What {@link STORE_HISTORY_FILE} holds for a store run. */
export interface SavedStoreHistory {
  /** Always `store`. */
  workload: 'store';
  /** The history, operations in their saved form. */
  history: Omit<StoreHistory, 'operations'> & { operations: SavedOperation[] };
}

/** Operations in their saved form. */
export function serializeOperations(ops: readonly Operation<KvInput, KvOutput>[]): SavedOperation[] {
  return ops.map((op) => ({
    id: op.id,
    clientId: op.clientId,
    input: op.input,
    call: op.call,
    ret: Number.isFinite(op.ret) ? op.ret : null,
    output: op.output === UNKNOWN ? null : op.output,
  }));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const INPUT_TYPES = new Set(['put', 'get', 'delete', 'cas']);

/**
 * A saved store history, shape-checked, with unknown outcomes restored.
 *
 * @throws CairnError `DECODE_FAILED` naming what is wrong (and the operation's index)
 */
export function loadStoreHistory(parsed: Record<string, unknown>, file: string): StoreHistory {
  const bad = (what: string) => new CairnError('DECODE_FAILED', `${file} is not a store history: ${what}`);
  const h = parsed.history;
  if (!isObject(h) || !Number.isSafeInteger(h.nodes) || !Array.isArray(h.operations)) throw bad('no history');
  for (const list of ['final', 'timeline'] as const)
    if (!Array.isArray(h[list])) throw bad(`history.${list} must be a list`);
  if (!isObject(h.errors) || !isObject(h.faultCounts) || !Number.isSafeInteger(h.failed)) {
    throw bad('history.errors, faultCounts and failed are required');
  }
  const operations = (h.operations as unknown[]).map((x, i): Operation<KvInput, KvOutput> => {
    if (
      !isObject(x) ||
      !Number.isSafeInteger(x.id) ||
      !Number.isSafeInteger(x.clientId) ||
      !Number.isFinite(x.call) ||
      !isObject(x.input) ||
      !INPUT_TYPES.has(x.input.type as string) ||
      typeof x.input.key !== 'string' ||
      !(x.ret === null || Number.isFinite(x.ret)) ||
      !(x.output === null || (isObject(x.output) && INPUT_TYPES.has(x.output.type as string))) ||
      (x.ret === null) !== (x.output === null)
    ) {
      throw bad(`operation ${i} is malformed`);
    }
    return {
      id: x.id as number,
      clientId: x.clientId as number,
      input: x.input as unknown as KvInput,
      call: x.call as number,
      ret: x.ret === null ? Number.POSITIVE_INFINITY : (x.ret as number),
      output: x.output === null ? UNKNOWN : (x.output as unknown as KvOutput),
    };
  });
  return { ...(h as unknown as StoreHistory), operations };
}
