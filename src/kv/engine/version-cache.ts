import type { Version } from '../types.js';

/**
 * What a replica store knows of the cells it stored, without reading them back: per key, the stored
 * cell's version and whether it holds a value. It lets a write skip the read before its merge when
 * the write is strictly newer than the stored cell (last-write-wins then picks the write whatever
 * the stored value is) and the count of stored values can move by the cached value flag.
 *
 * Bounded and lossy: a fixed table of `entries` slots in sets of eight, indexed by `hash` (the low
 * bits of the key's token, uniform), a new key replacing the oldest recorded of a full set;
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
/** Bytes of a slot before its key: length (1), flags (1), logical (2), node (4), wall (8). */
const HEADER = 16;
/** Slots per set: a key may sit in any of them. */
const WAYS = 8;
/** Flag bit: the stored cell holds a value. */
const HAS_VALUE = 1;
/** In a set's first slot, bits 1-3: the slot of the set that the next new key replaces. */
const VICTIM_SHIFT = 1;
const VICTIM_MASK = 0b1110;

export class VersionCache {
  private readonly sets: number;
  private readonly keyBytes: number;
  /** Bytes per slot: the header and the key, a multiple of 8 so every field is aligned. */
  private readonly stride: number;
  /**
   * The slots, each one contiguous (a lookup touches a few adjacent cache lines, not one per
   * field); made on first use. Length 0 is an empty slot (keys are never empty).
   */
  private bytes: Uint8Array | undefined;
  private logicals: Uint16Array | undefined;
  private nodes: Uint32Array | undefined;
  private walls: Float64Array | undefined;
  /** Set when the table could not be made (a limit too large for memory): the cache stays empty. */
  private unavailable = false;

  /**
   * @param entries slots, rounded down to a power of two (at least 8)
   * @param keyBytes longest key held (at most 255)
   */
  constructor(entries: number, keyBytes: number) {
    let sets = 1;
    while (sets * 2 * WAYS <= entries) sets *= 2;
    this.sets = sets;
    this.keyBytes = Math.max(1, Math.min(255, Math.floor(keyBytes)));
    this.stride = HEADER + Math.ceil(this.keyBytes / 8) * 8;
  }

  /** The slot holding `key`, or -1. */
  find(key: Uint8Array, hash: number): number {
    const bytes = this.bytes;
    if (bytes === undefined || key.length > this.keyBytes) return -1;
    const base = (hash & (this.sets - 1)) * WAYS;
    for (let at = base; at < base + WAYS; at++)
      if (bytes[at * this.stride] === key.length && this.holds(at, key)) return at;
    return -1;
  }

  /** True when slot `at`'s version is older than `version` (so `version` wins the merge). */
  olderThan(at: number, version: Version): boolean {
    const words = this.stride / 8;
    const wall = this.walls![at * words + 1]!;
    if (wall !== version.wall) return wall < version.wall;
    const logical = this.logicals![at * words * 4 + 1]!;
    if (logical !== version.logical) return logical < version.logical;
    return this.nodes![at * words * 2 + 1]! < version.node;
  }

  /** 1 when slot `at`'s cell holds a value, else 0. */
  valueFlag(at: number): 0 | 1 {
    return (this.bytes![at * this.stride + 1]! & HAS_VALUE) !== 0 ? 1 : 0;
  }

  /**
   * Records the stored cell of `key`: its version and whether it holds a value. A new key takes an
   * empty slot of its set, else the set's slots in turn (the oldest recorded key goes first).
   */
  remember(key: Uint8Array, hash: number, version: Version, hasValue: boolean): void {
    if (key.length > this.keyBytes) return;
    if (this.bytes === undefined && !this.allocate()) return;
    const bytes = this.bytes!;
    const stride = this.stride;
    let at = this.find(key, hash);
    if (at < 0) at = this.claim(key, (hash & (this.sets - 1)) * WAYS);
    const words = stride / 8;
    this.walls![at * words + 1] = version.wall;
    this.logicals![at * words * 4 + 1] = version.logical;
    this.nodes![at * words * 2 + 1] = version.node;
    const flagsAt = at * stride + 1;
    bytes[flagsAt] = (bytes[flagsAt]! & VICTIM_MASK) | (hasValue ? HAS_VALUE : 0);
  }

  /** Drops what is known of `key`. */
  forget(key: Uint8Array, hash: number): void {
    const at = this.find(key, hash);
    if (at >= 0) this.bytes![at * this.stride] = 0;
  }

  /** Drops everything. */
  clear(): void {
    this.bytes?.fill(0);
  }

  /** A slot of the set at `base` for a new `key`: an empty one, else the next in turn. */
  private claim(key: Uint8Array, base: number): number {
    const bytes = this.bytes!;
    const stride = this.stride;
    let at = -1;
    for (let i = base; i < base + WAYS; i++)
      if (bytes[i * stride] === 0) {
        at = i;
        break;
      }
    if (at < 0) {
      const first = base * stride + 1;
      const victim = (bytes[first]! & VICTIM_MASK) >> VICTIM_SHIFT;
      at = base + victim;
      bytes[first] = (bytes[first]! & ~VICTIM_MASK) | (((victim + 1) % WAYS) << VICTIM_SHIFT);
    }
    bytes.set(key, at * stride + HEADER);
    bytes[at * stride] = key.length;
    return at;
  }

  private holds(at: number, key: Uint8Array): boolean {
    const bytes = this.bytes!;
    const from = at * this.stride + HEADER;
    for (let i = 0; i < key.length; i++) if (bytes[from + i] !== key[i]) return false;
    return true;
  }

  /** Makes the table; false (and the cache stays empty) when memory refuses it. */
  private allocate(): boolean {
    if (this.unavailable) return false;
    let buffer: ArrayBuffer;
    try {
      buffer = new ArrayBuffer(this.sets * WAYS * this.stride);
    } catch {
      this.unavailable = true;
      return false;
    }
    this.bytes = new Uint8Array(buffer);
    this.logicals = new Uint16Array(buffer);
    this.nodes = new Uint32Array(buffer);
    this.walls = new Float64Array(buffer);
    return true;
  }
}
