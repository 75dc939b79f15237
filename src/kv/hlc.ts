import { type Clock, sha256 } from '../core/index.js';
import { KvError } from './errors.js';
import type { Version } from './types.js';

/**
 * Hybrid logical clocks (Kulkarni et al., 2014) for the partitioned store's versions.
 *
 * A version is `(wall, logical, node)`: `wall` follows the node's clock in whole milliseconds,
 * `logical` orders events within one millisecond (and after observing a peer that is ahead), and
 * `node` breaks ties between coordinators. Versions stay close to real time, so last-write-wins
 * means "the latest write by the clocks", while causality (a write made after observing another)
 * is never inverted by a slow clock.
 */

/** The largest logical counter a version carries (16 bits, as the cell codec stores it). */
export const MAX_LOGICAL = 0xffff;

/** The default bound on how far ahead a peer's clock may be before its versions are refused. */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = 500;

/**
 * A node's tie-break tag: the first 32 bits (big-endian) of SHA-256 of its name.
 *
 * Two nodes whose names collide on 32 bits would break ties the same way; their versions still
 * differ unless their clocks also agree to the millisecond and logical count, and even then every
 * replica picks the same cell (see the merge rule in types.ts).
 *
 * @example
 * ```ts
 * const clock = new HybridClock({ clock: systemClock, node: nodeTag('n1') });
 * ```
 */
export function nodeTag(name: string): number {
  const h = sha256(name);
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

/** True when `v` has the shape of a version: safe non-negative integers in their ranges. */
export function isVersion(v: unknown): v is Version {
  if (typeof v !== 'object' || v === null) return false;
  const { wall, logical, node } = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(wall) &&
    (wall as number) >= 0 &&
    Number.isInteger(logical) &&
    (logical as number) >= 0 &&
    (logical as number) <= MAX_LOGICAL &&
    Number.isInteger(node) &&
    (node as number) >= 0 &&
    (node as number) <= 0xffffffff
  );
}

/** Options of {@link HybridClock}. */
export interface HybridClockOptions {
  /** The physical clock (wall milliseconds). */
  clock: Clock;
  /** This node's tie-break tag ({@link nodeTag} of its name). */
  node: number;
  /**
   * How far (ms) a peer's version may be ahead of this node's clock; default 500. A larger bound
   * tolerates worse clocks but lets a fast clock push versions (and so LWW) further from real time.
   */
  maxOffsetMs?: number;
}

/**
 * A hybrid logical clock.
 *
 * Contract: every version {@link now} returns is strictly greater (by `compareVersions`) than every
 * version it returned or {@link observe}d before, and its `wall` is at least the physical clock's
 * reading. `observe` refuses a version more than `maxOffsetMs` ahead of the physical clock with
 * `KvError('CLOCK_SKEW')` and leaves the clock unchanged, so one peer with a runaway clock cannot
 * drag this node's versions into the future. When the logical counter would pass
 * {@link MAX_LOGICAL} within one millisecond, `wall` moves one millisecond ahead of the physical
 * clock (65,536 versions a millisecond is far above what a node makes).
 *
 * @example
 * ```ts
 * const hlc = new HybridClock({ clock, node: nodeTag('n1') });
 * const v = hlc.now();          // stamp a write
 * hlc.observe(remoteVersion);   // on a version from a peer; throws CLOCK_SKEW when it is too far ahead
 * ```
 */
export class HybridClock {
  private readonly clock: Clock;
  private readonly node: number;
  /** The skew bound in ms. */
  readonly maxOffsetMs: number;
  private wall = 0;
  private logical = 0;

  constructor(options: HybridClockOptions) {
    const { node, maxOffsetMs = DEFAULT_MAX_CLOCK_OFFSET_MS } = options;
    if (!Number.isInteger(node) || node < 0 || node > 0xffffffff) {
      throw new KvError('INVALID_ARGUMENT', `node tag must be a uint32, got ${node}`);
    }
    if (!Number.isFinite(maxOffsetMs) || maxOffsetMs < 0) {
      throw new KvError('INVALID_ARGUMENT', `maxOffsetMs must be a non-negative number, got ${maxOffsetMs}`);
    }
    this.clock = options.clock;
    this.node = node;
    this.maxOffsetMs = maxOffsetMs;
  }

  /** A new version, strictly greater than every version this clock made or observed. */
  now(): Version {
    const physical = Math.floor(this.clock.now());
    if (physical > this.wall) {
      this.wall = physical;
      this.logical = 0;
    } else if (this.logical < MAX_LOGICAL) {
      this.logical++;
    } else {
      this.wall++;
      this.logical = 0;
    }
    return { wall: this.wall, logical: this.logical, node: this.node };
  }

  /**
   * Advances past a version seen from a peer.
   *
   * @throws KvError `CLOCK_SKEW` without advancing when `remote.wall > clock.now() + maxOffsetMs`;
   *   `INVALID_ARGUMENT` when `remote` is not a well-formed version
   */
  observe(remote: Version): void {
    if (!isVersion(remote)) throw new KvError('INVALID_ARGUMENT', 'observed a malformed version');
    const physical = this.clock.now();
    if (remote.wall > physical + this.maxOffsetMs) {
      throw new KvError(
        'CLOCK_SKEW',
        `a peer's version is ${Math.round(remote.wall - physical)} ms ahead of this node's clock, over maxOffsetMs=${this.maxOffsetMs}`,
      );
    }
    if (remote.wall > this.wall || (remote.wall === this.wall && remote.logical > this.logical)) {
      this.wall = remote.wall;
      this.logical = remote.logical;
    }
  }

  /** The latest version made or observed (the clock's state), without advancing it. */
  last(): Version {
    return { wall: this.wall, logical: this.logical, node: this.node };
  }
}
