import { KvError } from '../errors.js';
import type { Cell } from '../types.js';
import {
  type Consistency,
  type KvScanPage,
  requiredReplicas,
  type Token,
  type TokenRange,
} from '../types.js';
import { DEFAULT_LIMITS } from './config.js';
import type { CoordinatorContext } from './coordinator.js';
import { gather } from './gather.js';
import type { ScanAnswer } from './replica-client.js';

/** The largest token. */
export const MAX_TOKEN: Token = (1n << 64n) - 1n;

/**
 * The linear token interval [from, hi] that starts at `from` and stays inside one ring range,
 * as a TokenRange `(from - 1, hi]` (`from = 0` gives `(MAX, hi]`, which wraps to `[0, hi]`).
 * `ranges` are the ring's ranges in token order (by end token), the first one wrapping.
 */
export function scanInterval(
  ranges: readonly TokenRange[],
  from: Token,
): { range: TokenRange; owner: TokenRange } {
  let owner = ranges.find((r) => r.end >= from);
  let hi: Token;
  if (owner === undefined) {
    owner = ranges[0]!;
    hi = MAX_TOKEN;
  } else if (owner === ranges[0] && owner.start >= owner.end && from > owner.end) {
    hi = MAX_TOKEN;
  } else {
    hi = owner.end;
  }
  const start = from === 0n ? MAX_TOKEN : from - 1n;
  return { range: { start, end: hi }, owner };
}

/** The cursor that resumes at token `from`; 0 once past the last token. */
export function cursorFor(from: Token): bigint {
  return from > MAX_TOKEN ? 0n : from + 1n;
}

/**
 * One page of a cluster-wide scan at `level`: walks token order from the cursor's position (cursor
 * = position + 1; 0 starts at token 0), asking `required(level)` live replicas of each ring range
 * for the keys of the range and merging their answers by last-write-wins (tombstones hide deleted
 * keys). A range whose replicas cut their answer at `count` ends the page at the smallest token any
 * of them reached, so the next page re-reads that token's keys rather than skip any: keys can come
 * twice, never not at all (Redis's SCAN promise). Scans do not repair.
 *
 * @throws KvError UNAVAILABLE (too few live replicas of a range), TIMEOUT
 */
export async function scanPage(
  ctx: CoordinatorContext,
  cursor: bigint,
  count: number,
  level: Consistency,
  signal?: AbortSignal,
): Promise<KvScanPage> {
  const ring = ctx.ring();
  const ranges = ring.ranges();
  if (ranges.length === 0)
    throw new KvError('UNAVAILABLE', 'the ring is empty: no kv node has published tokens');
  if (cursor < 0n || cursor > MAX_TOKEN + 1n)
    throw new KvError('INVALID_ARGUMENT', `scan cursor ${cursor} is out of range`);
  const limit = Math.max(1, Math.min(count, DEFAULT_LIMITS.maxScanLimit));
  const required = requiredReplicas(level, ring.rf);
  const deadline = ctx.clock.now() + ctx.config.readTimeoutMs;
  let from: Token = cursor === 0n ? 0n : cursor - 1n;
  const keys: Uint8Array[] = [];
  for (let visited = 0; visited < DEFAULT_LIMITS.maxRangesPerScanPage && keys.length < limit; visited++) {
    const { range, owner } = scanInterval(ranges, from);
    const natural = ring.replicas(owner.end);
    const alive = natural.filter((n) => ctx.isAlive(n));
    if (alive.length < required) {
      throw new KvError(
        'UNAVAILABLE',
        `${level} scan needs ${required} replicas of range ending ${owner.end}, only ${alive.length} alive`,
      );
    }
    const calls = new Map<string, Promise<ScanAnswer>>();
    for (const n of alive)
      calls.set(
        n,
        ctx.replicas.scan(n, range, undefined, limit - keys.length, Math.max(0, deadline - ctx.clock.now())),
      );
    const got = await gather(
      ctx.clock,
      calls,
      (r) => r.size >= required,
      Math.max(0, deadline - ctx.clock.now()),
      signal,
    );
    if (got.results.size < required) {
      throw new KvError(
        'TIMEOUT',
        `${level} scan: only ${got.results.size} of ${required} replicas answered for range ending ${owner.end}`,
      );
    }
    const { live, next } = mergePages(ctx, [...got.results.values()], range.end);
    keys.push(...live);
    if (next !== undefined) return { keys, cursor: cursorFor(next) };
    if (range.end === MAX_TOKEN) return { keys, cursor: 0n };
    from = range.end + 1n;
  }
  return { keys, cursor: cursorFor(from) };
}

/**
 * Merges replicas' pages of one interval: the live keys up to the cut, and where the next page
 * starts (undefined when every replica answered the whole interval).
 */
function mergePages(
  ctx: CoordinatorContext,
  pages: readonly ScanAnswer[],
  end: Token,
): { live: Uint8Array[]; next?: Token } {
  let cut: Token | undefined;
  for (const p of pages) {
    const last = p.entries.at(-1);
    if (p.next !== undefined && last !== undefined && (cut === undefined || last.token < cut))
      cut = last.token;
  }
  // Keys at the cut token may be missing from the pages that stopped there: re-read them next
  // time. Unless every entry sits at that token (a 64-bit hash collision run longer than a page).
  let keepBelow = cut;
  const all = pages.flatMap((p) => p.entries);
  if (cut !== undefined && !all.some((e) => e.token < cut)) keepBelow = cut + 1n;
  const merged = new Map<string, { key: Uint8Array; token: Token; cell: Cell }>();
  for (const e of all) {
    if (keepBelow !== undefined && e.token >= keepBelow) continue;
    const id = `${e.token}:${Buffer.from(e.key).toString('hex')}`;
    const prior = merged.get(id);
    merged.set(id, { key: e.key, token: e.token, cell: ctx.engines.mergeCells(prior?.cell, e.cell) });
  }
  const now = ctx.clock.now();
  const sorted = [...merged.values()].sort((a, b) =>
    a.token < b.token ? -1 : a.token > b.token ? 1 : Buffer.compare(a.key, b.key),
  );
  const live = sorted
    .filter((e) => e.cell.value !== undefined && ctx.engines.isLive(e.cell, now))
    .map((e) => e.key);
  if (keepBelow === undefined) return { live };
  // A cut at the very end of the interval still ends the page there.
  return { live, next: keepBelow > end ? end + 1n : keepBelow };
}
