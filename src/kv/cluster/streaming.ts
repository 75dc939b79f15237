import type { TokenRange } from '../types.js';
import type { ReplicaPort, ScanPosition } from './ports.js';
import type { WriteKind } from './protocol.js';
import type { ReplicaService } from './replica.js';
import type { ReplicaClient } from './replica-client.js';

/** Pages one range transfer may take: 2^20 pages of up to 4096 entries is far past any range. */
export const MAX_STREAM_PAGES = 1 << 20;

/** What a range transfer moved. */
export interface Transferred {
  cells: number;
  bytes: number;
}

/** What the transfers need. */
export interface StreamContext {
  readonly replicas: ReplicaClient;
  readonly service: ReplicaService;
  readonly store: ReplicaPort;
  readonly pageEntries: number;
  readonly pageTimeoutMs: number;
}

function bytesOf(entries: readonly { key: Uint8Array; cell: { value: Uint8Array | undefined } }[]): number {
  let n = 0;
  for (const e of entries) n += e.key.length + (e.cell.value?.length ?? 0) + 24;
  return n;
}

/**
 * Copies every cell of `range` from `source` into this node's store, page by page (LWW-merged:
 * idempotent, safe to repeat and safe beside concurrent writes).
 *
 * @throws whatever a page's rpc throws (the caller retries the range or gives up)
 */
export async function pullRange(
  ctx: StreamContext,
  source: string,
  range: TokenRange,
  kind: WriteKind,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  const total: Transferred = { cells: 0, bytes: 0 };
  let after: ScanPosition | undefined;
  for (let page = 0; page < MAX_STREAM_PAGES; page++) {
    signal?.throwIfAborted();
    const answer = await ctx.replicas.scan(source, range, after, ctx.pageEntries, ctx.pageTimeoutMs);
    if (answer.entries.length > 0) {
      await ctx.service.apply(kind, answer.entries);
      const moved = { cells: answer.entries.length, bytes: bytesOf(answer.entries) };
      total.cells += moved.cells;
      total.bytes += moved.bytes;
      onPage?.(moved);
    }
    if (answer.next === undefined) return total;
    after = answer.next;
  }
  return total;
}

/**
 * Sends every cell of `range` in this node's store to `target`, page by page.
 *
 * @throws whatever a page's rpc throws
 */
export async function pushRange(
  ctx: StreamContext,
  target: string,
  range: TokenRange,
  kind: WriteKind,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  const total: Transferred = { cells: 0, bytes: 0 };
  let after: ScanPosition | undefined;
  for (let page = 0; page < MAX_STREAM_PAGES; page++) {
    signal?.throwIfAborted();
    const answer = await ctx.store.scan(
      range,
      after === undefined ? { limit: ctx.pageEntries } : { after, limit: ctx.pageEntries },
    );
    if (answer.entries.length > 0) {
      await ctx.replicas.write(target, kind, answer.entries, ctx.pageTimeoutMs);
      const moved = { cells: answer.entries.length, bytes: bytesOf(answer.entries) };
      total.cells += moved.cells;
      total.bytes += moved.bytes;
      onPage?.(moved);
    }
    if (answer.next === undefined) return total;
    after = answer.next;
  }
  return total;
}

/**
 * Copies every cell of `range` from `source` to `target` through this node, page by page (a
 * removal's streaming: the removed node is gone, so its ranges' new owners get them from the
 * surviving replicas). With `source` this node, {@link pushRange}.
 *
 * @throws whatever a page's rpc throws
 */
export async function copyRange(
  ctx: StreamContext & { readonly self: string },
  source: string,
  target: string,
  range: TokenRange,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  if (source === ctx.self) return pushRange(ctx, target, range, 'stream', onPage, signal);
  const total: Transferred = { cells: 0, bytes: 0 };
  let after: ScanPosition | undefined;
  for (let page = 0; page < MAX_STREAM_PAGES; page++) {
    signal?.throwIfAborted();
    const answer = await ctx.replicas.scan(source, range, after, ctx.pageEntries, ctx.pageTimeoutMs);
    if (answer.entries.length > 0) {
      await ctx.replicas.write(target, 'stream', answer.entries, ctx.pageTimeoutMs);
      const moved = { cells: answer.entries.length, bytes: bytesOf(answer.entries) };
      total.cells += moved.cells;
      total.bytes += moved.bytes;
      onPage?.(moved);
    }
    if (answer.next === undefined) return total;
    after = answer.next;
  }
  return total;
}
