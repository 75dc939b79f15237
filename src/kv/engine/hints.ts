import {
  CairnError,
  type Clock,
  describeError,
  type Logger,
  type Storage,
  withLimits,
} from '../../core/index.js';
import { KvError } from '../errors.js';
import type { Cell } from '../types.js';
import { cellProblem, decodeCell, encodeCell } from './cell.js';
import { HINT_PREFIX } from './layout.js';
import { ENGINE_LIMITS, type EngineLimits } from './limits.js';
import { DEFAULT_GC_GRACE_MS } from './replica-store.js';

/**
 * Hinted handoff storage: writes a coordinator could not deliver to a replica, kept until the
 * replica is back (Dynamo's sloppy hand-off, Cassandra's hints).
 *
 * Layout: `0x02 | target name length (1 byte) | target name | id`, where the 12-byte id is the
 * hint's wall time in ms (8 bytes) and a sequence number (4 bytes), both big-endian, so a target's
 * hints iterate oldest first. The value is the key's length (4 bytes), the key, and the cell's
 * byte form. A hint carries the write's version, so replaying it twice or after a newer write is
 * harmless (the replica merges by version).
 */

/** Cassandra's `max_hint_window`, 3 hours: a replica down longer is left to anti-entropy. */
export const DEFAULT_HINT_WINDOW_MS = 3 * 3600 * 1000;
/** Bytes of hints kept per target by default: a node down for the whole window under a heavy write load fills this. */
export const DEFAULT_MAX_HINT_BYTES_PER_TARGET = 64 * 1024 * 1024;

const ID_BYTES = 12;
const MAX_TARGET_BYTES = 255;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Options of {@link HintStore}. */
export interface HintStoreOptions {
  /** Where hints live (the replica store's storage; hints have their own key prefix). */
  storage: Storage;
  /** Wall time of hints, for the window and their age. */
  clock: Clock;
  /**
   * Once a target's oldest pending hint is this old (ms), new hints for it are dropped; default 3 h
   * (Cassandra's `max_hint_window`). A longer window replays more after a long outage but keeps more
   * on disk; what is dropped is left to anti-entropy.
   */
  windowMs?: number;
  /** Bytes of hints kept for one target (keys and values as stored); default 64 MiB. Past it new hints are dropped. */
  maxBytesPerTarget?: number;
  /**
   * Hints older than this (ms) are discarded instead of replayed; default 10 days, the replica
   * store's default grace period. It must not exceed the replicas' `gcGraceMs`: a value replayed
   * after the tombstone that deleted it was purged would come back.
   */
  maxAgeMs?: number;
  /** Fsync each hint; default false (a hint lost in a crash is repaired by anti-entropy, and the write reached a quorum). */
  sync?: boolean;
  /** Overrides of {@link ENGINE_LIMITS} (`maxKeyBytes`, `maxValueBytes`, `maxHintTargets`). */
  limits?: Partial<EngineLimits>;
  /** Where corrupt hints are reported. */
  logger?: Logger;
}

/** One stored hint. */
export interface Hint {
  /** Opaque id, for {@link HintStore.remove}. */
  readonly id: Uint8Array;
  readonly key: Uint8Array;
  readonly cell: Cell;
}

/** Counters of a hint store. */
export interface HintStoreStats {
  stored: number;
  /** Hints refused: past the window, the byte bound or the target count. */
  dropped: number;
  /** Hints discarded unreplayed because they were older than `maxAgeMs`. */
  expired: number;
  /** Stored hints that failed to decode (deleted). */
  corrupt: number;
}

interface TargetState {
  bytes: number;
  count: number;
  /** Wall ms of the oldest pending hint. */
  oldestMs: number;
}

function targetPrefix(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + name.length);
  out[0] = HINT_PREFIX;
  out[1] = name.length;
  out.set(name, 2);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function idWall(id: Uint8Array): number {
  const view = new DataView(id.buffer, id.byteOffset, id.byteLength);
  return view.getUint32(0) * 0x100000000 + view.getUint32(4);
}

function encodeHintValue(key: Uint8Array, cell: Cell): Uint8Array {
  const c = encodeCell(cell);
  const out = new Uint8Array(4 + key.length + c.length);
  new DataView(out.buffer).setUint32(0, key.length);
  out.set(key, 4);
  out.set(c, 4 + key.length);
  return out;
}

function decodeHintValue(b: Uint8Array): { key: Uint8Array; cell: Cell } {
  if (b.length < 4) throw new CairnError('DECODE_FAILED', 'stored hint is shorter than its header');
  const keyLength = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (keyLength === 0 || 4 + keyLength > b.length)
    throw new CairnError('DECODE_FAILED', 'stored hint key length is out of range');
  return { key: b.slice(4, 4 + keyLength), cell: decodeCell(b.subarray(4 + keyLength)) };
}

/** Passes of {@link HintStore.dropTarget} (each deletes at most `maxScanLimit` hints). */
const MAX_DROP_PASSES = 10_000;

/**
 * Hints per target node, bounded by a window and a byte size, on core's `Storage`.
 *
 * Contract: `add` either stores the hint (true) or drops it and counts the drop (false): it drops
 * once the target's oldest pending hint is older than `windowMs`, when the target's stored bytes
 * would pass `maxBytesPerTarget`, or when `maxHintTargets` other targets have hints. `list` returns
 * a target's hints oldest first, leaving out (and deleting) hints older than `maxAgeMs` and corrupt
 * ones. Mutations are serialized, so `bytesFor` is exact. Hints survive a restart: the counters are
 * rebuilt by {@link load} (which every other call awaits first); `targets` and `bytesFor` report
 * what is loaded, so call `load` (or use {@link HintStore.open}) before relying on them.
 *
 * @example
 * ```ts
 * const hints = await HintStore.open({ storage, clock });
 * if (!(await hints.add('n2', key, cell))) metrics.hintsDropped.inc();
 * const batch = await hints.list('n2', 100);  // replay them, then:
 * await hints.remove('n2', batch.map((h) => h.id));
 * ```
 */
export class HintStore {
  private readonly storage: Storage;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly maxBytesPerTarget: number;
  private readonly maxAgeMs: number;
  private readonly sync: boolean;
  private readonly limits: EngineLimits;
  private readonly logger: Logger | undefined;
  private readonly state = new Map<string, TargetState>();
  private lastWall = 0;
  private lastSeq = 0;
  private loading: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly counters: HintStoreStats = { stored: 0, dropped: 0, expired: 0, corrupt: 0 };

  constructor(options: HintStoreOptions) {
    const {
      windowMs = DEFAULT_HINT_WINDOW_MS,
      maxBytesPerTarget = DEFAULT_MAX_HINT_BYTES_PER_TARGET,
      maxAgeMs = DEFAULT_GC_GRACE_MS,
    } = options;
    for (const [name, value] of [
      ['windowMs', windowMs],
      ['maxBytesPerTarget', maxBytesPerTarget],
      ['maxAgeMs', maxAgeMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new CairnError('INVALID_CONFIG', `${name} must be a positive number, got ${value}`);
      }
    }
    this.storage = options.storage;
    this.clock = options.clock;
    this.windowMs = windowMs;
    this.maxBytesPerTarget = maxBytesPerTarget;
    this.maxAgeMs = maxAgeMs;
    this.sync = options.sync ?? false;
    this.limits = withLimits(ENGINE_LIMITS, options.limits ?? {});
    this.logger = options.logger;
  }

  /** A hint store with its stored hints counted. */
  static async open(options: HintStoreOptions): Promise<HintStore> {
    const hints = new HintStore(options);
    await hints.load();
    return hints;
  }

  /** Counters since construction. */
  stats(): Readonly<HintStoreStats> {
    return { ...this.counters };
  }

  /** Counts the stored hints per target (once; retried after a failure). */
  load(): Promise<void> {
    if (this.loading === undefined) {
      this.loading = this.scanAll().catch((err: unknown) => {
        this.loading = undefined;
        throw err;
      });
    }
    return this.loading;
  }

  /**
   * Stores a hint for `target`; returns false (and counts a drop) past the window or size bound.
   *
   * @throws KvError `INVALID_ARGUMENT` for a bad target name, key or cell
   */
  add(target: string, key: Uint8Array, cell: Cell): Promise<boolean> {
    return this.exclusive(async () => {
      const name = this.checkTarget(target);
      if (!(key instanceof Uint8Array) || key.length === 0 || key.length > this.limits.maxKeyBytes) {
        throw new KvError('INVALID_ARGUMENT', 'a hint key must be non-empty bytes within maxKeyBytes');
      }
      const problem = cellProblem(cell, this.limits.maxValueBytes);
      if (problem !== undefined) throw new KvError('INVALID_ARGUMENT', problem);
      const now = Math.floor(this.clock.now());
      const st = this.state.get(target);
      const value = encodeHintValue(key, cell);
      const size = 2 + name.length + ID_BYTES + value.length;
      const refused =
        (st === undefined && this.state.size >= this.limits.maxHintTargets) ||
        (st !== undefined && now - st.oldestMs > this.windowMs) ||
        (st?.bytes ?? 0) + size > this.maxBytesPerTarget;
      if (refused) {
        this.counters.dropped++;
        return false;
      }
      const id = this.nextId(now);
      await this.storage.batch([{ type: 'put', key: concat(targetPrefix(name), id), value }], {
        sync: this.sync,
      });
      if (st === undefined) this.state.set(target, { bytes: size, count: 1, oldestMs: now });
      else {
        st.bytes += size;
        st.count++;
      }
      this.counters.stored++;
      return true;
    });
  }

  /** The hints for `target`, oldest first, at most `limit`. */
  list(target: string, limit: number): Promise<Hint[]> {
    return this.exclusive(async () => {
      const name = this.checkTarget(target);
      if (!Number.isInteger(limit) || limit < 1 || limit > this.limits.maxScanLimit) {
        throw new KvError(
          'INVALID_ARGUMENT',
          `hint list limit must be an integer in 1..${this.limits.maxScanLimit}`,
        );
      }
      const prefix = targetPrefix(name);
      const now = this.clock.now();
      const out: Hint[] = [];
      const discard: { id: Uint8Array; size: number }[] = [];
      for await (const [k, v] of this.storage.iterator({ gt: prefix, lt: nextPrefix(name) })) {
        if (k.length !== prefix.length + ID_BYTES || !startsWith(k, prefix)) continue;
        const id = k.slice(prefix.length);
        const size = k.length + v.length;
        if (now - idWall(id) > this.maxAgeMs) {
          this.counters.expired++;
          discard.push({ id, size });
          continue;
        }
        try {
          out.push({ id, ...decodeHintValue(v) });
        } catch (err) {
          this.counters.corrupt++;
          this.logger?.error({ target, err: describeError(err) }, 'kv: corrupt stored hint');
          discard.push({ id, size });
        }
        if (out.length >= limit) break;
      }
      if (discard.length > 0) await this.deleteIds(target, name, discard);
      return out;
    });
  }

  /** Deletes `target`'s hints with these ids (replayed, or no longer wanted). Unknown ids are ignored. */
  remove(target: string, ids: readonly Uint8Array[]): Promise<void> {
    return this.exclusive(async () => {
      const name = this.checkTarget(target);
      const prefix = targetPrefix(name);
      const found: { id: Uint8Array; size: number }[] = [];
      for (const id of ids) {
        if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) continue;
        const value = await this.storage.get(concat(prefix, id));
        if (value !== undefined) found.push({ id, size: prefix.length + ID_BYTES + value.length });
      }
      if (found.length > 0) await this.deleteIds(target, name, found);
    });
  }

  /**
   * Deletes every hint for `target` (a node that left the ring: decommissioned, removed or reaped,
   * as Cassandra's removenode excises its hints); returns how many. Each pass deletes at most
   * `maxScanLimit` hints, at most {@link MAX_DROP_PASSES} passes (the per-target byte bound keeps
   * a target's hints far below that); what a later `add` stores is kept.
   */
  dropTarget(target: string): Promise<number> {
    return this.exclusive(async () => {
      const name = this.checkTarget(target);
      const prefix = targetPrefix(name);
      let dropped = 0;
      for (let pass = 0; pass < MAX_DROP_PASSES; pass++) {
        const found: { id: Uint8Array; size: number }[] = [];
        for await (const [k, v] of this.storage.iterator({
          gt: prefix,
          lt: nextPrefix(name),
          limit: this.limits.maxScanLimit,
        })) {
          if (k.length !== prefix.length + ID_BYTES || !startsWith(k, prefix)) continue;
          found.push({ id: k.slice(prefix.length), size: k.length + v.length });
        }
        if (found.length === 0) break;
        await this.deleteIds(target, name, found);
        dropped += found.length;
      }
      return dropped;
    });
  }

  /** Targets with pending hints. */
  targets(): string[] {
    return [...this.state.keys()];
  }

  /** Bytes of `target`'s pending hints (0 when none). */
  bytesFor(target: string): number {
    return this.state.get(target)?.bytes ?? 0;
  }

  /** Number of `target`'s pending hints. */
  countFor(target: string): number {
    return this.state.get(target)?.count ?? 0;
  }

  private async deleteIds(
    target: string,
    name: Uint8Array,
    entries: readonly { id: Uint8Array; size: number }[],
  ) {
    const prefix = targetPrefix(name);
    await this.storage.batch(
      entries.map((e) => ({ type: 'del' as const, key: concat(prefix, e.id) })),
      { sync: this.sync },
    );
    const st = this.state.get(target);
    if (st === undefined) return;
    for (const e of entries) {
      st.bytes -= e.size;
      st.count--;
    }
    if (st.count <= 0) {
      this.state.delete(target);
      return;
    }
    for await (const [k] of this.storage.iterator({ gt: prefix, lt: nextPrefix(name), limit: 1 })) {
      st.oldestMs = idWall(k.subarray(prefix.length));
    }
  }

  private async scanAll(): Promise<void> {
    this.state.clear();
    for await (const [k, v] of this.storage.iterator({
      gte: Uint8Array.of(HINT_PREFIX),
      lt: Uint8Array.of(HINT_PREFIX + 1),
    })) {
      const nameLength = k[1] ?? 0;
      if (k.length !== 2 + nameLength + ID_BYTES) continue;
      let target: string;
      try {
        target = decoder.decode(k.subarray(2, 2 + nameLength));
      } catch {
        continue;
      }
      const id = k.subarray(2 + nameLength);
      const wall = idWall(id);
      const seq = new DataView(id.buffer, id.byteOffset + 8, 4).getUint32(0);
      if (wall > this.lastWall || (wall === this.lastWall && seq > this.lastSeq)) {
        this.lastWall = wall;
        this.lastSeq = seq;
      }
      const size = k.length + v.length;
      const st = this.state.get(target);
      if (st === undefined) this.state.set(target, { bytes: size, count: 1, oldestMs: wall });
      else {
        st.bytes += size;
        st.count++;
      }
    }
  }

  /** A new id, greater than every id made or loaded (hints of one target stay in order). */
  private nextId(now: number): Uint8Array {
    if (now > this.lastWall) {
      this.lastWall = now;
      this.lastSeq = 0;
    } else this.lastSeq++;
    const id = new Uint8Array(ID_BYTES);
    const view = new DataView(id.buffer);
    view.setUint32(0, Math.floor(this.lastWall / 0x100000000));
    view.setUint32(4, this.lastWall >>> 0);
    view.setUint32(8, this.lastSeq);
    return id;
  }

  private checkTarget(target: string): Uint8Array {
    const name = typeof target === 'string' ? encoder.encode(target) : new Uint8Array(0);
    if (name.length === 0 || name.length > MAX_TARGET_BYTES) {
      throw new KvError('INVALID_ARGUMENT', `a hint target must be a name of 1..${MAX_TARGET_BYTES} bytes`);
    }
    return name;
  }

  /** Runs `fn` after every earlier mutation (and the initial load) finished. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => this.load()).then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** The first key after every key of target `name` (same length byte, name incremented as a number). */
function nextPrefix(name: Uint8Array): Uint8Array {
  const p = targetPrefix(name);
  for (let i = p.length - 1; i >= 2; i--) {
    if (p[i]! < 0xff) {
      p[i]!++;
      return p.subarray(0, i + 1);
    }
  }
  // Every name byte is 0xff: next is the next name length (or past every hint).
  return name.length < MAX_TARGET_BYTES
    ? Uint8Array.of(HINT_PREFIX, name.length + 1)
    : Uint8Array.of(HINT_PREFIX + 1);
}
