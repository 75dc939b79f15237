import { CairnError } from '../../../core/index.js';
import type { StoreStatusJson } from '../../../node/store-http.js';
import { type AgentProcess, delay } from '../../hosts/agent-process.js';

/**
 * The store's status as each agent reports it on `GET /v1/store/status`, read from the root
 * namespace through the lab bridge (never cut by the nemesis).
 */

/** Deadline of one status read, ms: a paused or partitioned agent must not hold up the poll. */
const STATUS_TIMEOUT_MS = 1_000;

/** One agent's store status, or undefined when it does not answer (down, starting, no store yet). */
export async function storeStatus(agent: AgentProcess): Promise<StoreStatusJson | undefined> {
  try {
    const res = await fetch(`${agent.url}/v1/store/status`, {
      signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
    });
    if (res.status !== 200) return undefined;
    return (await res.json()) as StoreStatusJson;
  } catch {
    return undefined;
  }
}

/** Every agent's status, in host order. */
export function storeStatuses(agents: readonly AgentProcess[]): Promise<(StoreStatusJson | undefined)[]> {
  return Promise.all(agents.map(storeStatus));
}

/**
 * Polls the statuses of `agents` until `ok` holds, every `pollMs`.
 *
 * @returns the statuses that satisfied `ok`
 * @throws CairnError `TIMEOUT` after `timeoutMs` (naming `what` and the last statuses), `CANCELLED` on abort
 */
export async function waitStatuses(
  agents: readonly AgentProcess[],
  ok: (all: (StoreStatusJson | undefined)[]) => boolean,
  timeoutMs: number,
  signal: AbortSignal,
  what: string,
  pollMs = 200,
): Promise<(StoreStatusJson | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  let last: (StoreStatusJson | undefined)[] = [];
  while (Date.now() < deadline) {
    if (signal.aborted) throw new CairnError('CANCELLED', `the run was stopped while waiting for ${what}`);
    last = await storeStatuses(agents);
    if (ok(last)) return last;
    await delay(pollMs);
  }
  const text = last
    .map((s, i) =>
      s === undefined
        ? `${agents[i]!.host.name}: no status`
        : `${s.name}: leader ${s.leaderName || '-'}, applied ${s.appliedIndex}/${s.commitIndex}, ${s.members.length} voters, ${s.learners.length} learners`,
    )
    .join('; ');
  throw new CairnError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}: ${text}`);
}
