import type { AgentProcess } from '../../hosts/agent-process.js';

/**
 * What the lab reads of each agent's partitioned-store status (`GET /v1/kv/status`, from the root
 * namespace through the bridge, never cut by the nemesis): hints still waiting for delivery and
 * anti-entropy rounds completed. The body is the agent's `KvStatusJson` (src/node/kv-http.ts); only the fields used
 * here are read, each checked, so a status of another shape reads as no status.
 */

/** Deadline of one status read, ms: a paused or partitioned agent must not hold up the poll. */
const STATUS_TIMEOUT_MS = 1_000;

/** The fields of a kv status the lab uses. */
export interface KvRepairStatus {
  /** Hint bytes waiting, summed over targets. */
  hintBytes: number;
  /** Anti-entropy rounds completed since the node started. */
  antiEntropyRounds: number;
  /** The node's ring status (`normal`, ...). */
  ring: string;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The fields of a status body, or undefined when it has another shape. */
export function parseKvStatus(body: unknown): KvRepairStatus | undefined {
  if (!isObject(body) || !isObject(body.hintsPending) || !isObject(body.antiEntropy)) return undefined;
  const rounds = body.antiEntropy.rounds;
  if (!Number.isSafeInteger(rounds) || typeof body.status !== 'string') return undefined;
  let hintBytes = 0;
  for (const v of Object.values(body.hintsPending)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    hintBytes += v;
  }
  return { hintBytes, antiEntropyRounds: rounds as number, ring: body.status };
}

/** One agent's kv status, or undefined when it does not answer (down, starting, no kv role). */
export async function kvStatus(agent: AgentProcess): Promise<KvRepairStatus | undefined> {
  try {
    const res = await fetch(`${agent.url}/v1/kv/status`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    if (res.status !== 200) return undefined;
    return parseKvStatus(await res.json());
  } catch {
    return undefined;
  }
}

/** Every agent's kv status, in host order. */
export function kvStatuses(agents: readonly AgentProcess[]): Promise<(KvRepairStatus | undefined)[]> {
  return Promise.all(agents.map(kvStatus));
}
