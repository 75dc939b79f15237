import type { NodeId, SignedRecord } from '../../security/index.js';
import { sharedEncoding } from '../intern.js';
import type { Claim, MemberStatus } from './claims.js';
import { compareClaims, decideClaim } from './claims.js';
import type { SwimConfig } from './config.js';
import type { DeadlineQueue } from './deadlines.js';
import type { SwimLimits } from './limits.js';
import { MemberEntry, type MemberTable } from './members.js';
import type { SwimSigner, VerifiedAccusation, VerifiedAlive, VerifiedLeave } from './messages.js';
import { encodePart, memberBroadcastKey, type Outbox } from './outbox.js';
import type { Suspicions } from './suspicions.js';
import type { SwimCounters } from './types.js';

/** Prefix of reap timer keys (`x:<id>`): a member dead or left is removed from the table then. */
export const REAP_TIMER_PREFIX = 'x:';

/** What the member updates need from their core (the outbox and suspicions are passed apart). */
export interface UpdatesHost {
  readonly config: SwimConfig;
  readonly limits: SwimLimits;
  readonly signer: SwimSigner;
  readonly selfId: NodeId;
  readonly self: MemberEntry;
  readonly table: MemberTable;
  readonly timers: DeadlineQueue;
  readonly stats: SwimCounters;
  /** The step's time. */
  now(): number;
  /** True once the local node has started to leave. */
  leaving(): boolean;
  /** Adds a member (new, or back from dead or left) to the probe order. */
  addToOrder(e: MemberEntry): void;
  /** Lifeguard: moves the local health multiplier by `delta` (clamped). */
  adjustAwareness(delta: number): void;
}

/**
 * The claims half of the SWIM core: applies alive records, accusations (suspect, dead) and leaves
 * to the member table under the ordering rules (`claims.ts`), refutes claims against the local
 * node, corrects senders that are behind, and declares and reaps the dead. Owned by
 * {@link SwimCore}; not exported from the package.
 */
export class MemberUpdates {
  /**
   * The encoded Leave or Dead that put each member listed `left` or `dead` there, sent to a node
   * that evidently missed it: one that accuses the member of less (an older claim), or asks this
   * node to probe it (a PingReq). At most one per table entry: dropped when the status changes or
   * the entry is reaped.
   */
  private readonly downParts = new Map<NodeId, Uint8Array>();

  constructor(
    private readonly h: UpdatesHost,
    private readonly outbox: Outbox,
    private readonly suspicions: Suspicions,
  ) {}

  /** What this node holds against `e`: its accusation if suspect (Lifeguard), a fresh Dead if dead. */
  accusationAgainst(e: MemberEntry): Uint8Array | undefined {
    // Telling a pinging suspect it is suspected is the buddy system in reverse: Lifeguard only.
    if (e.status === 'suspect')
      return this.h.config.lifeguard ? this.suspicions.accusationOf(e.id) : undefined;
    if (e.status !== 'dead') return undefined;
    const record = this.h.signer.dead({ target: e.id, generation: e.generation, incarnation: e.incarnation });
    return encodePart({ type: 'Dead', record });
  }

  /** Our own probe of `t` (or another detector) found no sign of life: accuse it, signed by us. */
  suspectAfterFailedProbe(t: MemberEntry): void {
    this.h.stats.suspicionsRaised++;
    const fields = { target: t.id, generation: t.generation, incarnation: t.incarnation };
    const record = this.h.signer.suspect(fields);
    this.onAccusation({ type: 'Suspect', from: this.h.selfId, record, ...fields });
  }

  /**
   * An alive record. `gossiped` is false for records learned by push-pull: those are not queued for
   * gossip when they only add a member or repeat what was known, because the peer that gave them
   * already knows them and every node gossips its own alive record (and every node that learns one
   * by gossip relays it). Queueing them made each sync after a mass join bury later updates and
   * deaths under hundreds of alive records. A sync that clears a suspicion or death is relayed.
   */
  onAlive(m: VerifiedAlive, gossiped = true): void {
    if (m.node === this.h.selfId) {
      // Our own record: only one newer than ours (never made by this run) needs an answer.
      if (
        !this.h.leaving() &&
        m.generation === this.h.self.generation &&
        m.incarnation > this.h.self.incarnation
      ) {
        this.refute(m.incarnation);
      }
      return;
    }
    const e = this.h.table.get(m.node, m.key);
    if (e === undefined) {
      this.addMember(m, gossiped);
      return;
    }
    if (!this.applies(e, m, 'alive')) return;
    const previous = e.status;
    const restarted = m.generation > e.generation;
    const moved = m.address !== e.address || m.name !== e.name;
    e.desc = m;
    e.incarnation = m.incarnation;
    this.suspicions.clear(e.id);
    this.h.timers.cancel(REAP_TIMER_PREFIX + e.id);
    if (previous !== 'alive') this.setStatus(e, 'alive');
    if (previous === 'dead' || previous === 'left') this.h.addToOrder(e);
    if (gossiped || previous !== 'alive') this.outbox.enqueueRecord(e.id, 'Alive', m.record);
    if (previous === 'dead' || previous === 'left') this.outbox.emit('join', e, previous, restarted);
    else if (previous === 'suspect') this.outbox.emit('alive', e, previous, restarted);
    else if (moved || restarted) this.outbox.emit('update', e, previous, restarted);
  }

  /** Whether a member's own claim (alive or left) is newer than what is held; counts a stale one. */
  private applies(e: MemberEntry, m: VerifiedAlive | VerifiedLeave, status: 'alive' | 'left'): boolean {
    if (decideClaim(e, { generation: m.generation, incarnation: m.incarnation, status }) === 'apply')
      return true;
    this.h.stats.staleClaims++;
    return false;
  }

  private addMember(m: VerifiedAlive, relay: boolean): void {
    if (this.h.table.size >= this.h.limits.maxMembers) {
      this.h.stats.membersRejected++;
      return;
    }
    const e = new MemberEntry(m, m.incarnation, 'alive');
    this.h.table.add(e, this.h.now());
    this.h.addToOrder(e);
    if (relay) this.outbox.enqueueRecord(e.id, 'Alive', m.record);
    this.outbox.emit('join', e, undefined, false);
  }

  /** A suspicion or death; `from` is the packet's source address (undefined for our own). */
  onAccusation(m: VerifiedAccusation, from?: string): void {
    if (m.target === this.h.selfId) {
      this.onAccusedSelf(m.generation, m.incarnation, from);
      return;
    }
    if (!this.mayAccuse(m.from)) {
      this.h.stats.strangerAccusations++;
      return;
    }
    const e = this.h.table.get(m.target);
    if (e === undefined) {
      this.h.stats.unknownSubjects++;
      return;
    }
    const status: MemberStatus = m.type === 'Suspect' ? 'suspect' : 'dead';
    const claim: Claim = { generation: m.generation, incarnation: m.incarnation, status };
    const decision = decideClaim(e, claim);
    if (decision === 'unknown-generation') {
      this.h.stats.unknownSubjects++;
      return;
    }
    if (decision === 'stale') {
      this.h.stats.staleClaims++;
      // The sender accuses an incarnation the member has refuted: it missed the refutation. Or it
      // accuses a member that left: it missed the leave, and would declare the member dead. Or it
      // suspects a member already declared dead: it missed the death (it was cut off while the
      // `dead` broadcasts ran out of retransmits), and nobody else would tell it: every member
      // that knows drops its suspicion as stale, so no one confirms it either, and it waits the
      // unconfirmed maximum timeout (the fault lab's seed 7: 18 s on the local preset, past the
      // killed node's restart). Only a strictly older claim is answered, so two nodes that agree
      // never answer each other.
      if (from !== undefined && e.generation === m.generation && compareClaims(claim, e) < 0) {
        if (e.status === 'alive') this.correct(from, e.aliveRecord);
        else this.sendDownNotice(from, e);
      }
      return;
    }
    const part = encodePart({ type: m.type, record: m.record });
    if (decision === 'confirm') {
      if (this.suspicions.confirmOrStart(e, m.from, part)) this.outbox.enqueuePart(e.id, part);
      return;
    }
    const previous = e.status;
    e.incarnation = m.incarnation;
    if (status === 'suspect') {
      this.setStatus(e, 'suspect');
      this.suspicions.start(e, m.from, part);
      this.outbox.enqueuePart(e.id, part);
      this.outbox.emit('suspect', e, previous, false);
      return;
    }
    this.markDown(e, 'dead', part);
    this.outbox.enqueuePart(e.id, part);
    // Eager, like key/value updates: forwarded at once (once per node, the first time it learns of
    // the death) instead of at the next gossip tick, so a death reaches every member in a few
    // network hops rather than a few gossip intervals.
    this.outbox.gossipRound();
    this.outbox.emit('dead', e, previous, false);
  }

  /**
   * Whether an accusation signed by `accuser` counts: only a member this node lists alive, suspect
   * or dead (dead until reaped: a member declared dead may still be up and probing) may accuse
   * another. Without this, any key (no keyring, or a leaked cluster key) could sign deaths of live
   * members and make them flap. A joiner whose alive record has not reached this node yet is not
   * listed: its accusations are dropped here until it is, which only delays them (the other
   * members that know it relay them, and its own alive record follows on the same gossip).
   * Accusations of the local node are answered whoever signed them (`onAccusedSelf`): refuting
   * costs one alive record, and refusing would leave this node accused by everyone who does list
   * the accuser.
   */
  private mayAccuse(accuser: NodeId): boolean {
    const e = this.h.table.get(accuser);
    return e !== undefined && e.status !== 'left';
  }

  /** A member's own graceful leave. */
  onLeave(m: VerifiedLeave): void {
    if (m.node === this.h.selfId) {
      this.onAccusedSelf(m.generation, m.incarnation, undefined);
      return;
    }
    const e = this.h.table.get(m.node);
    if (e === undefined) {
      this.h.stats.unknownSubjects++;
      return;
    }
    if (!this.applies(e, m, 'left')) return;
    const previous = e.status;
    const restarted = m.generation > e.generation;
    // A leave of a newer generation than the alive record held (a restart missed): the record is
    // kept for its address, under the leave's generation.
    if (restarted) e.desc = { ...e.desc, generation: m.generation };
    e.incarnation = m.incarnation;
    this.markDown(
      e,
      'left',
      sharedEncoding('Leave', m.record, () => encodePart({ type: 'Leave', record: m.record })),
    );
    this.outbox.enqueueRecord(e.id, 'Leave', m.record);
    this.outbox.emit('leave', e, previous, restarted);
  }

  /**
   * A suspicion, death or leave of the local node arrived. One about the current incarnation is
   * refuted with a higher one. One about an older incarnation is already refuted, but its sender
   * evidently missed the refutation (gossip is probabilistic): the current alive record is queued
   * again, unless it still is, so it rides on the next packets (the Ack to a buddy-system ping
   * first). Memberlist leaves such gaps to push-pull; re-announcing closes them within a probe.
   */
  private onAccusedSelf(generation: number, incarnation: number, from: string | undefined): void {
    if (this.h.leaving() || generation !== this.h.self.generation) return;
    if (incarnation >= this.h.self.incarnation) {
      this.refute(incarnation);
      return;
    }
    if (from !== undefined) this.correct(from, this.h.self.aliveRecord);
    if (!this.outbox.queue.has(memberBroadcastKey(this.h.selfId))) {
      this.h.stats.reannouncements++;
      this.outbox.enqueueRecord(this.h.selfId, 'Alive', this.h.self.aliveRecord);
    }
  }

  /**
   * Sends a member's current alive record straight back to a sender that accused an incarnation
   * the member already refuted (Cairn's correction; memberlist leaves it to push-pull). A node
   * relays an accusation only until a newer record replaces it in its queue, so a stale one
   * received means the sender is behind: one packet brings it up to date.
   */
  correct(to: string, aliveRecord: SignedRecord): void {
    this.h.stats.corrections++;
    this.outbox.send(to, [encodePart({ type: 'Alive', record: aliveRecord })]);
  }

  /** Answers a suspicion or death of the local node: a fresh alive at a higher incarnation. */
  private refute(accusedIncarnation: number): void {
    this.h.stats.refutations++;
    this.announceSelf(Math.max(this.h.self.incarnation, accusedIncarnation) + 1);
    if (this.h.config.lifeguard) {
      this.h.adjustAwareness(1);
    }
  }

  /** Signs and queues a new alive record of the local node at `incarnation`. */
  announceSelf(incarnation: number, address = this.h.self.address, name = this.h.self.name): void {
    const s = this.h.self;
    const generation = s.generation;
    const record = this.h.signer.alive({ generation, incarnation, address, name });
    s.incarnation = incarnation;
    s.desc = { node: this.h.selfId, key: s.key, name, address, generation, record };
    this.outbox.enqueueRecord(this.h.selfId, 'Alive', record);
  }

  /** A suspicion ran out unrefuted: the suspect is declared dead (signed by this node). */
  onSuspicionTimeout(id: NodeId): void {
    this.suspicions.expired(id);
    const e = this.h.table.get(id);
    if (e === undefined || e.status !== 'suspect') return;
    this.h.stats.deathsDeclared++;
    const record = this.h.signer.dead({ target: id, generation: e.generation, incarnation: e.incarnation });
    const part = encodePart({ type: 'Dead', record });
    this.markDown(e, 'dead', part);
    this.outbox.enqueuePart(id, part);
    this.outbox.gossipRound(); // eager: a death is news every member waits for
    this.outbox.emit('dead', e, 'suspect', false);
  }

  /**
   * Lists `e` dead or left, ends its suspicion and schedules its reaping; `notice` is the encoded
   * Dead or Leave that did it, kept for {@link downNoticeOf}.
   */
  private markDown(e: MemberEntry, status: 'dead' | 'left', notice: Uint8Array): void {
    this.suspicions.clear(e.id);
    this.setStatus(e, status);
    this.downParts.set(e.id, notice);
    this.h.timers.set(REAP_TIMER_PREFIX + e.id, this.h.now() + this.h.config.reapAfterMs);
  }

  /**
   * The encoded Dead or Leave of a member listed `dead` or `left`, as received (or signed here,
   * for a death this node declared); undefined for a member up.
   */
  downNoticeOf(e: MemberEntry): Uint8Array | undefined {
    return e.up ? undefined : this.downParts.get(e.id);
  }

  /** Sends the Dead or Leave of `e` (listed dead or left) to a node that missed it. */
  sendDownNotice(to: string, e: MemberEntry): void {
    const notice = this.downNoticeOf(e);
    if (notice === undefined) return;
    this.h.stats.downNotices++;
    this.outbox.sendOnly(to, notice);
  }

  /** Removes a member dead or left for `reapAfterMs` from the table. */
  onReap(id: NodeId): void {
    const e = this.h.table.get(id);
    if (e === undefined || e.up || e === this.h.self) return;
    this.downParts.delete(id);
    // The event's view is taken while the entry is still in the table (it holds since-when).
    this.outbox.emit('reap', e, e.status, false);
    this.h.table.remove(e);
  }

  /** Sets `e`'s status, dropping its kept Dead or Leave (`markDown` keeps the new one). */
  setStatus(e: MemberEntry, status: MemberStatus): void {
    if (this.downParts.size > 0) this.downParts.delete(e.id);
    this.h.table.setStatus(e, status, this.h.now());
  }
}
