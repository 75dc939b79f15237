import type { Clock } from '../core/clock.js';
import { Fnv64 } from '../core/hash.js';
import { withLimits } from '../core/limits.js';
import { KvError } from './errors.js';
import {
  CONSISTENCY_LEVELS,
  type Consistency,
  type KvApi,
  type KvEntry,
  type KvReadOptions,
  type KvScanPage,
  type KvWriteOptions,
  type RingInfo,
  type Token,
} from './types.js';

/**
 * A single-process {@link KvApi}: every key in one map, in this process's memory, for tests of the
 * layers above the store (the Redis front end, the client, the CLI) without a cluster.
 *
 * It keeps the store's observable rules: values expire at `expiresAt` by the injected clock (an
 * expired key reads as absent, is not counted, not scanned, and is dropped when next touched);
 * scans walk keys in (token, key) order with ring-position cursors, so a key present for a whole
 * scan is returned at least once however the map changes between pages. Tokens come from a 64-bit
 * FNV-1a of the key: stable, but not the cluster's partitioner, so token values differ from a
 * real ring's. Consistency levels are validated and otherwise ignored (there is one replica).
 */

/** Limits of {@link MemoryKv}. */
export const MEMORY_KV_LIMITS = Object.freeze({
  /** Bytes of one key: a key travels in every request and index entry (Cassandra allows 64 KiB). */
  maxKeyBytes: 64 * 1024,
  /** Bytes of one value: the same bound the front end puts on one RESP bulk string. */
  maxValueBytes: 8 * 1024 * 1024,
  /** Keys one scan page may ask for: a page is built in memory before it is answered. */
  maxScanCount: 100_000,
});

/** The type of {@link MEMORY_KV_LIMITS}. */
export type MemoryKvLimits = { -readonly [K in keyof typeof MEMORY_KV_LIMITS]: number };

/** Options of {@link MemoryKv}. */
export interface MemoryKvOptions {
  /** Time for TTLs. */
  readonly clock: Clock;
  /** The node name `ring()` reports; default `memory`. */
  readonly name?: string;
  /** The RESP address `ring()` reports, when a front end serves this store. */
  readonly resp?: string;
  readonly limits?: Partial<MemoryKvLimits>;
}

interface Stored {
  readonly id: string;
  readonly key: Uint8Array;
  readonly token: Token;
  readonly value: Uint8Array;
  readonly expiresAt: number | undefined;
}

const TOKEN_SPACE = 1n << 64n;

/** The 64-bit ring position of `key` in a {@link MemoryKv} (FNV-1a, big-endian reading). */
export function memoryToken(key: Uint8Array): Token {
  return BigInt(`0x${new Fnv64().bytes(key).hex()}`);
}

function compareStored(a: Stored, b: Stored): number {
  if (a.token !== b.token) return a.token < b.token ? -1 : 1;
  return Buffer.compare(a.key, b.key);
}

function mapKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/**
 * An in-memory, single-node {@link KvApi}; see the module comment.
 *
 * @example
 * ```ts
 * const kv = new MemoryKv({ clock: new ManualClock() });
 * await kv.put(utf8('a'), utf8('1'), { expiresAt: clock.now() + 1000 });
 * (await kv.get(utf8('a')))?.value; // '1' until the clock passes expiresAt
 * ```
 */
export class MemoryKv implements KvApi {
  private readonly limits: MemoryKvLimits;
  private readonly entries = new Map<string, Stored>();
  /**
   * Entries sorted by (token, key), rebuilt lazily when a scan follows a change of the key set. A
   * slot may hold an older value of its key: scans read the current one from `entries`.
   */
  private sorted: Stored[] = [];
  private sortedStale = false;

  constructor(private readonly options: MemoryKvOptions) {
    this.limits = withLimits(MEMORY_KV_LIMITS, options.limits) as MemoryKvLimits;
  }

  /** Number of stored keys, expired ones not yet dropped included (for tests). */
  get storedCount(): number {
    return this.entries.size;
  }

  async get(key: Uint8Array, options: KvReadOptions = {}): Promise<KvEntry | undefined> {
    checkRequest(options.consistency, options.signal);
    this.checkKey(key);
    const id = mapKey(key);
    const stored = this.entries.get(id);
    if (stored === undefined) return undefined;
    if (stored.expiresAt !== undefined && stored.expiresAt <= this.options.clock.now()) {
      this.entries.delete(id);
      this.sortedStale = true;
      return undefined;
    }
    return stored.expiresAt === undefined
      ? { value: stored.value }
      : { value: stored.value, expiresAt: stored.expiresAt };
  }

  async put(key: Uint8Array, value: Uint8Array | undefined, options: KvWriteOptions = {}): Promise<void> {
    checkRequest(options.consistency, options.signal);
    this.checkKey(key);
    const id = mapKey(key);
    const expiresAt = options.expiresAt;
    if (expiresAt !== undefined && !Number.isFinite(expiresAt))
      throw new KvError('INVALID_ARGUMENT', `expiresAt ${expiresAt} is not a finite time`);
    const gone = value === undefined || (expiresAt !== undefined && expiresAt <= this.options.clock.now());
    if (gone) {
      if (this.entries.delete(id)) this.sortedStale = true;
      return;
    }
    if (value.length > this.limits.maxValueBytes)
      throw new KvError(
        'INVALID_ARGUMENT',
        `value of ${value.length} bytes is over maxValueBytes=${this.limits.maxValueBytes}`,
      );
    const old = this.entries.get(id);
    // Copies: callers hand in views of network buffers that they may reuse.
    this.entries.set(id, {
      id,
      key: old?.key ?? Uint8Array.from(key),
      token: old?.token ?? memoryToken(key),
      value: Uint8Array.from(value),
      expiresAt,
    });
    if (old === undefined) this.sortedStale = true;
  }

  async scan(cursor: bigint, options: { count: number } & KvReadOptions): Promise<KvScanPage> {
    checkRequest(options.consistency, options.signal);
    if (cursor < 0n || cursor >= TOKEN_SPACE)
      throw new KvError('INVALID_ARGUMENT', `scan cursor ${cursor} is not a 64-bit ring position`);
    const count = options.count;
    if (!Number.isInteger(count) || count < 1 || count > this.limits.maxScanCount)
      throw new KvError('INVALID_ARGUMENT', `scan count ${count} is not in 1..${this.limits.maxScanCount}`);
    const sorted = this.sortedEntries();
    const now = this.options.clock.now();
    const keys: Uint8Array[] = [];
    let i = lowerBound(sorted, cursor);
    let last: Token | undefined;
    for (; i < sorted.length; i++) {
      const e = sorted[i]!;
      // A page never splits one token's keys: the next cursor is a ring position, past them all.
      if (keys.length >= count && e.token !== last) break;
      last = e.token;
      const current = this.entries.get(e.id);
      if (current === undefined || (current.expiresAt !== undefined && current.expiresAt <= now)) continue;
      keys.push(current.key);
    }
    const next = i >= sorted.length || last === undefined ? 0n : last + 1n;
    return { keys, cursor: next >= TOKEN_SPACE ? 0n : next };
  }

  async approximateSize(): Promise<number> {
    const now = this.options.clock.now();
    let n = 0;
    for (const e of this.entries.values()) if (e.expiresAt === undefined || e.expiresAt > now) n++;
    return n;
  }

  ring(): RingInfo {
    const node = {
      name: this.options.name ?? 'memory',
      tokens: [0n],
      status: 'normal' as const,
      ...(this.options.resp === undefined ? {} : { resp: this.options.resp }),
    };
    return { rf: 1, nodes: [node] };
  }

  private checkKey(key: Uint8Array): void {
    if (key.length === 0) throw new KvError('INVALID_ARGUMENT', 'a key must not be empty');
    if (key.length > this.limits.maxKeyBytes)
      throw new KvError(
        'INVALID_ARGUMENT',
        `key of ${key.length} bytes is over maxKeyBytes=${this.limits.maxKeyBytes}`,
      );
  }

  /** The sorted index (a put that replaces a value leaves it valid: same key, same token). */
  private sortedEntries(): Stored[] {
    if (this.sortedStale) {
      this.sorted = [...this.entries.values()].sort(compareStored);
      this.sortedStale = false;
    }
    return this.sorted;
  }
}

function checkRequest(consistency: Consistency | undefined, signal: AbortSignal | undefined): void {
  if (consistency !== undefined && !CONSISTENCY_LEVELS.includes(consistency))
    throw new KvError('INVALID_ARGUMENT', `unknown consistency level ${String(consistency)}`);
  if (signal?.aborted) throw new KvError('TIMEOUT', 'the request was cancelled before it started');
}

/** First index whose token is >= `token`. */
function lowerBound(sorted: readonly Stored[], token: Token): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.token < token) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
