import type { Version } from '../types.js';

/**
 * What a replica store knows of the cells it stored, without reading them back: per key, the stored
 * cell's version and whether it holds a value. It lets a write skip the read before its merge when
 * the write is strictly newer than the stored cell (last-write-wins then picks the write whatever
 * the stored value is) and the count of stored values can move by the cached value flag.
 *
 * Bounded and lossy: a fixed table of `entries` slots in sets of two, indexed by `hash` (the low
 * bits of the key's token, uniform), with the newest of each set kept when a third key lands in it;
 * keys longer than `keyBytes` are never held. No allocation per call: keys, versions and flags live
 * in typed arrays made on first use.
 *
 * Contract: an entry is exact or absent. The store records a key only after the batch that wrote
 * its cell (or confirmed it unchanged) succeeded, forgets it when it deletes the cell, and clears
 * the table when a batch fails (the storage may or may not hold it). Only the store writes its
 * data keys, so nothing else can make an entry stale. Versions are stored in fields as wide as
 * the hybrid clock's bounds (`isVersion`: wall a safe integer, logical at most 0xffff, node a
 * uint32), which the store checks before a write is queued, so a stored version is exact.
 */
export class VersionCache {
  private readonly sets: number;
  private readonly keyBytes: number;
  private keys: Uint8Array | undefined;
  /** Key length per slot; 0 is an empty slot (keys are never empty). */
  private lengths: Uint8Array | undefined;
  private walls: Float64Array | undefined;
  private logicals: Uint16Array | undefined;
  private nodes: Uint32Array | undefined;
  /** 1 when the stored cell holds a value (a value past its TTL included). */
  private values: Uint8Array | undefined;
  /** Per set, the way written last (the other is replaced next). */
  private recent: Uint8Array | undefined;

  /**
   * @param entries slots, rounded down to a power of two (at least 2)
   * @param keyBytes longest key held (at most 255)
   */
  constructor(entries: number, keyBytes: number) {
    let sets = 1;
    while (sets * 4 <= entries) sets *= 2;
    this.sets = sets;
    this.keyBytes = Math.max(1, Math.min(255, Math.floor(keyBytes)));
  }

  /** The slot holding `key`, or -1. */
  find(key: Uint8Array, hash: number): number {
    const lengths = this.lengths;
    if (lengths === undefined || key.length > this.keyBytes) return -1;
    const base = (hash & (this.sets - 1)) * 2;
    if (lengths[base] === key.length && this.holds(base, key)) return base;
    if (lengths[base + 1] === key.length && this.holds(base + 1, key)) return base + 1;
    return -1;
  }

  /** True when slot `at`'s version is older than `version` (so `version` wins the merge). */
  olderThan(at: number, version: Version): boolean {
    const wall = this.walls![at]!;
    if (wall !== version.wall) return wall < version.wall;
    const logical = this.logicals![at]!;
    if (logical !== version.logical) return logical < version.logical;
    return this.nodes![at]! < version.node;
  }

  /** 1 when slot `at`'s cell holds a value, else 0. */
  valueFlag(at: number): 0 | 1 {
    return this.values![at] === 1 ? 1 : 0;
  }

  /** Records the stored cell of `key`: its version and whether it holds a value. */
  remember(key: Uint8Array, hash: number, version: Version, hasValue: boolean): void {
    if (key.length > this.keyBytes) return;
    if (this.lengths === undefined) this.allocate();
    const set = hash & (this.sets - 1);
    const base = set * 2;
    let at = this.find(key, hash);
    if (at < 0) {
      at =
        this.lengths![base] === 0
          ? base
          : this.lengths![base + 1] === 0
            ? base + 1
            : base + 1 - this.recent![set]!;
      this.keys!.set(key, at * this.keyBytes);
      this.lengths![at] = key.length;
    }
    this.recent![set] = at - base;
    this.walls![at] = version.wall;
    this.logicals![at] = version.logical;
    this.nodes![at] = version.node;
    this.values![at] = hasValue ? 1 : 0;
  }

  /** Drops what is known of `key`. */
  forget(key: Uint8Array, hash: number): void {
    const at = this.find(key, hash);
    if (at >= 0) this.lengths![at] = 0;
  }

  /** Drops everything. */
  clear(): void {
    this.lengths?.fill(0);
  }

  private holds(at: number, key: Uint8Array): boolean {
    const keys = this.keys!;
    const from = at * this.keyBytes;
    for (let i = 0; i < key.length; i++) if (keys[from + i] !== key[i]) return false;
    return true;
  }

  private allocate(): void {
    const slots = this.sets * 2;
    this.keys = new Uint8Array(slots * this.keyBytes);
    this.lengths = new Uint8Array(slots);
    this.walls = new Float64Array(slots);
    this.logicals = new Uint16Array(slots);
    this.nodes = new Uint32Array(slots);
    this.values = new Uint8Array(slots);
    this.recent = new Uint8Array(this.sets);
  }
}
