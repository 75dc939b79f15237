import { withLimits } from '../core/index.js';
import type { NodeId } from '../security/index.js';

/** The limits of {@link ReplayWindows}; see {@link REPLAY_LIMITS} for each one's reason. */
export type ReplayLimits = {
  /** Members whose window is kept; the least recently heard is forgotten first. */
  readonly maxSenders: number;
  /** Senders outside the member table whose window is kept, apart from the members'. */
  readonly maxStrangers: number;
  /** Sequence numbers below a sender's highest that are still told apart (fresh or seen). */
  readonly windowSize: number;
};

/**
 * Limits of the direct-message replay windows. Each window costs about 100 bytes.
 */
export const REPLAY_LIMITS: ReplayLimits = Object.freeze({
  /** Members remembered: the largest member table (16,384), so members are never forgotten. */
  maxSenders: 16_384,
  /**
   * Senders the member table does not list (any key can sign): kept apart, so that a flood of
   * fresh keys forgets only other strangers' windows, never a member's.
   */
  maxStrangers: 1_024,
  /**
   * Sequence numbers of one sender told apart below its highest: small messages go by packet and
   * large ones by stream, so they can arrive out of order; 64 covers any burst that overtakes
   * another (IPsec's default window is 64 too).
   */
  windowSize: 64,
});

/** What {@link ReplayWindows.accept} decided about one message. */
export type ReplayVerdict =
  /** Never seen: deliver it. */
  | 'fresh'
  /** Seen before: a duplicate or a replay. */
  | 'replay'
  /** From an older run of the sender than one already heard from. */
  | 'old-generation'
  /** Older than the window: it cannot be told apart from a replay, so it is refused. */
  | 'too-old';

interface Window {
  generation: number;
  highest: number;
  /** Bit i set: `highest - i` was seen. */
  seen: bigint;
}

/**
 * Per-sender replay windows of direct messages: each message is signed with its sender's
 * generation and a sequence number that grows within the generation; a receiver delivers each
 * `(generation, sequence)` at most once. A newer generation resets the sender's window; an older
 * one is refused. Bounded: at most `maxSenders` windows of members and `maxStrangers` of other
 * senders (least recently heard forgotten first, each pool on its own), of `windowSize` sequence
 * numbers each (anything older than the window is refused).
 *
 * Contract: `accept` records what it accepts; it never throws on peer input.
 *
 * @example
 * ```ts
 * const windows = new ReplayWindows();
 * windows.accept(sender, 1700000000000, 1); // 'fresh'
 * windows.accept(sender, 1700000000000, 1); // 'replay'
 * ```
 */
export class ReplayWindows {
  /** The limits in force. */
  readonly limits: ReplayLimits;
  /** Windows of members, then of strangers; in each, the least recently heard first. */
  private readonly members = new Map<NodeId, Window>();
  private readonly strangers = new Map<NodeId, Window>();
  private readonly width: bigint;

  /** @param overrides - limits other than {@link REPLAY_LIMITS}' */
  constructor(overrides: Partial<ReplayLimits> = {}) {
    this.limits = withLimits<ReplayLimits>(REPLAY_LIMITS, overrides);
    this.width = BigInt(this.limits.windowSize);
  }

  /** Senders remembered. */
  get size(): number {
    return this.members.size + this.strangers.size;
  }

  /**
   * Decides whether the message `sequence` of `sender`'s run `generation` is new, and records it.
   *
   * @param member - the sender's generation as the member table knows it, or undefined for a
   *   sender it does not list: an older generation is refused even when the sender's window was
   *   forgotten, and members' windows are kept apart from strangers'
   */
  accept(sender: NodeId, generation: number, sequence: number, member?: number): ReplayVerdict {
    if (member !== undefined && generation < member) return 'old-generation';
    let w = this.members.get(sender) ?? this.strangers.get(sender);
    if (w === undefined || generation > w.generation) w = { generation, highest: sequence, seen: 0n };
    this.remember(sender, w, member !== undefined);
    if (generation < w.generation) return 'old-generation';
    if (w.seen === 0n) {
      w.seen = 1n;
      return 'fresh';
    }
    if (sequence > w.highest) {
      const shift = BigInt(sequence - w.highest);
      w.seen = shift >= this.width ? 1n : ((w.seen << shift) | 1n) & ((1n << this.width) - 1n);
      w.highest = sequence;
      return 'fresh';
    }
    const back = w.highest - sequence;
    if (back >= this.limits.windowSize) return 'too-old';
    const bit = 1n << BigInt(back);
    if ((w.seen & bit) !== 0n) return 'replay';
    w.seen |= bit;
    return 'fresh';
  }

  /** Puts `w` last (most recently heard) in its pool, forgetting the pool's first beyond its bound. */
  private remember(sender: NodeId, w: Window, member: boolean): void {
    this.members.delete(sender);
    this.strangers.delete(sender);
    const pool = member ? this.members : this.strangers;
    pool.set(sender, w);
    if (pool.size > (member ? this.limits.maxSenders : this.limits.maxStrangers)) {
      const oldest = pool.keys().next().value;
      if (oldest !== undefined) pool.delete(oldest);
    }
  }
}
