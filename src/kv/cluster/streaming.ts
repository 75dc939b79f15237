import type { TokenRange } from '../types.js';
import type { ReplicaPort, ScanEntry, ScanPosition } from './ports.js';
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

/** One page of a range as a scan returns it. */
interface Page {
  readonly entries: ScanEntry[];
  readonly next?: ScanPosition;
}

/**
 * Moves a range page by page: `read` fetches the page after a position, `write` stores its
 * entries, until a page says it is the last (bounded by {@link MAX_STREAM_PAGES}).
 */
async function movePages(
  read: (after: ScanPosition | undefined) => Promise<Page>,
  write: (entries: ScanEntry[]) => Promise<unknown>,
  onPage: ((moved: Transferred) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Transferred> {
  const total: Transferred = { cells: 0, bytes: 0 };
  let after: ScanPosition | undefined;
  for (let page = 0; page < MAX_STREAM_PAGES; page++) {
    signal?.throwIfAborted();
    const answer = await read(after);
    if (answer.entries.length > 0) {
      await write(answer.entries);
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

/** Reads pages of `range` from `source`'s store over rpc. */
function remotePages(ctx: StreamContext, source: string, range: TokenRange) {
  return (after: ScanPosition | undefined) =>
    ctx.replicas.scan(source, range, after, ctx.pageEntries, ctx.pageTimeoutMs);
}

/** Reads pages of `range` from this node's store. */
function localPages(ctx: StreamContext, range: TokenRange) {
  return (after: ScanPosition | undefined) =>
    ctx.store.scan(
      range,
      after === undefined ? { limit: ctx.pageEntries } : { after, limit: ctx.pageEntries },
    );
}

/**
 * Copies every cell of `range` from `source` into this node's store, page by page (LWW-merged:
 * idempotent, safe to repeat and safe beside concurrent writes).
 *
 * @throws whatever a page's rpc throws (the caller retries the range or gives up)
 */
export function pullRange(
  ctx: StreamContext,
  source: string,
  range: TokenRange,
  kind: WriteKind,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  return movePages(
    remotePages(ctx, source, range),
    (entries) => ctx.service.apply(kind, entries),
    onPage,
    signal,
  );
}

/**
 * Sends every cell of `range` in this node's store to `target`, page by page.
 *
 * @throws whatever a page's rpc throws
 */
export function pushRange(
  ctx: StreamContext,
  target: string,
  range: TokenRange,
  kind: WriteKind,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  return movePages(
    localPages(ctx, range),
    (entries) => ctx.replicas.write(target, kind, entries, ctx.pageTimeoutMs),
    onPage,
    signal,
  );
}

/**
 * Copies every cell of `range` from `source` to `target` through this node, page by page (a
 * removal's streaming: the removed node is gone, so its ranges' new owners get them from the
 * surviving replicas). With `source` this node, {@link pushRange}.
 *
 * @throws whatever a page's rpc throws
 */
export function copyRange(
  ctx: StreamContext & { readonly self: string },
  source: string,
  target: string,
  range: TokenRange,
  onPage?: (moved: Transferred) => void,
  signal?: AbortSignal,
): Promise<Transferred> {
  if (source === ctx.self) return pushRange(ctx, target, range, 'stream', onPage, signal);
  return movePages(
    remotePages(ctx, source, range),
    (entries) => ctx.replicas.write(target, 'stream', entries, ctx.pageTimeoutMs),
    onPage,
    signal,
  );
}
