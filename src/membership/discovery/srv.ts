import type { Rng } from '../../core/index.js';

/** An SRV record as `node:dns` returns it. */
export interface SrvRecord {
  /** Target host name (a trailing dot is allowed; `.` alone means "no service here"). */
  readonly name: string;
  /** Port on the target, 1-65535. */
  readonly port: number;
  /** Lower is tried first, 0-65535. */
  readonly priority: number;
  /** Relative share among records of equal priority, 0-65535. */
  readonly weight: number;
}

function isUint16(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 65535;
}

/** True when `r` has the shape of an {@link SrvRecord} with in-range numbers. */
export function isSrvRecord(r: unknown): r is SrvRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return typeof o.name === 'string' && isUint16(o.port) && isUint16(o.priority) && isUint16(o.weight);
}

/**
 * Orders SRV records as RFC 2782 says clients should try them: by ascending priority, and within
 * one priority by weighted random selection (a record's chance to come next is its weight over the
 * remaining total plus one, so a weight-0 record is rarely picked before heavier ones).
 *
 * Without an `rng` the order within a priority is deterministic: heavier first, then by target
 * and port, so that every node of a cluster tries the same seed first.
 *
 * @param records - validated records (see {@link isSrvRecord}); not modified
 * @param rng - the random stream for weighted selection
 */
export function orderSrv(records: readonly SrvRecord[], rng?: Rng): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group === undefined) byPriority.set(r.priority, [r]);
    else group.push(r);
  }
  const out: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(priority)!;
    group.sort(
      (a, b) => b.weight - a.weight || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.port - b.port,
    );
    if (rng === undefined) {
      out.push(...group);
      continue;
    }
    // RFC 2782: put weight-0 records first, then pick by running sum >= uniform [0, total].
    const remaining = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight > 0)];
    while (remaining.length > 0) {
      let total = 0;
      for (const r of remaining) total += r.weight;
      const pick = rng.int(total + 1);
      let running = 0;
      let index = remaining.length - 1;
      for (let i = 0; i < remaining.length; i++) {
        running += remaining[i]!.weight;
        if (running >= pick) {
          index = i;
          break;
        }
      }
      out.push(remaining[index]!);
      remaining.splice(index, 1);
    }
  }
  return out;
}
