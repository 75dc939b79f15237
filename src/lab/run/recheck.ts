import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CairnError, describeError } from '../../core/index.js';
import { checkKv } from '../workloads/kv/check.js';
import { type KvHistory, loadKvHistory } from '../workloads/kv/history.js';
import { checkMembership } from '../workloads/membership/check.js';
import type { MembershipHistory } from '../workloads/membership/history.js';
import { HISTORY_FILE, type SavedMembershipHistory } from '../workloads/membership/workload.js';
import { checkStore, type StoreHistory } from '../workloads/store/check.js';
import { loadStoreHistory } from '../workloads/store/saved.js';
import type { LabReport } from './run-lab.js';

/**
 * `npm run lab -- check <log dir>`: checks a finished run's saved history again (after a checker
 * change, or with other windows), without running anything.
 */

/** Largest history file read, bytes: a day-long run of 32 nodes is well under it. */
export const MAX_HISTORY_BYTES = 512 * 1024 * 1024;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Reads and shape-checks `<dir>/history.json`. */
export function loadHistory(
  dir: string,
):
  | SavedMembershipHistory
  | { workload: 'store'; history: StoreHistory }
  | { workload: 'kv'; history: KvHistory } {
  const file = join(dir, HISTORY_FILE);
  let parsed: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > MAX_HISTORY_BYTES) throw new Error(`larger than ${MAX_HISTORY_BYTES} bytes`);
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CairnError('DECODE_FAILED', `cannot read ${file}: ${describeError(err)}`);
  }
  const bad = (what: string) => new CairnError('DECODE_FAILED', `${file} is not a lab history: ${what}`);
  if (isObject(parsed) && parsed.workload === 'store')
    return { workload: 'store', history: loadStoreHistory(parsed, file) };
  if (isObject(parsed) && parsed.workload === 'kv')
    return { workload: 'kv', history: loadKvHistory(parsed, file) };
  if (!isObject(parsed) || parsed.workload !== 'membership')
    throw bad('no "workload": "membership", "store" or "kv"');
  const { options, history } = parsed;
  if (!isObject(options) || !Number.isFinite(options.shadowMs) || !Number.isFinite(options.detectBoundMs)) {
    throw bad('options.shadowMs and options.detectBoundMs must be numbers');
  }
  if (!isObject(history) || !Number.isSafeInteger(history.nodes) || !isObject(history.final))
    throw bad('no history');
  for (const list of ['cuts', 'kills', 'outages', 'observations', 'timeline']) {
    if (!Array.isArray(history[list])) throw bad(`history.${list} must be a list`);
  }
  return parsed as unknown as SavedMembershipHistory;
}

/** Checks a saved run again; the report has no log dir of its own (it names the one read). */
export function recheck(
  dir: string,
  overrides: { shadowMs?: number; detectBoundMs?: number; suspicionWindowMs?: number } = {},
): LabReport {
  const saved = loadHistory(dir);
  if (saved.workload === 'store' || saved.workload === 'kv') {
    const result = saved.workload === 'store' ? checkStore(saved.history) : checkKv(saved.history);
    return {
      outcome: result.valid ? 'valid' : 'invalid',
      workload: saved.workload,
      seed: -1,
      command: `npm run lab -- check ${dir}`,
      violations: result.violations,
      figures: result.figures,
      logDir: dir,
      cleanupProblems: [],
    };
  }
  const options = { ...saved.options, ...overrides };
  const history: MembershipHistory = saved.history;
  const result = checkMembership(history, options);
  return {
    outcome: result.valid ? 'valid' : 'invalid',
    workload: 'membership',
    seed: -1,
    command: `npm run lab -- check ${dir}`,
    violations: result.violations,
    figures: { ...result.figures, ...options },
    logDir: dir,
    cleanupProblems: [],
  };
}
