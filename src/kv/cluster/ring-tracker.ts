import { type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { Address } from '../../transport/types.js';
import { isOffRing, OFF_RING_KEY } from '../ring/advert.js';
import { decodeGhosts, encodeGhosts, GHOST_LIMITS } from '../ring/ghosts.js';
import {
  decodeDenials,
  decodeRecalls,
  encodeDenials,
  encodeRecalls,
  RECALL_LIMITS,
  type RingRecall,
} from '../ring/recalls.js';
import {
  decodeRemovals,
  encodeRemovals,
  REMOVAL_LIMITS,
  type RingRemoval,
  tokensDigest,
} from '../ring/removals.js';
import type { RingNode, RingNodeStatus, Token } from '../types.js';
import type { KvEngines, RingPort } from './ports.js';

/** A member as the kv node needs it from membership. */
export interface KvMember {
  readonly name: string;
  readonly address: Address;
  readonly state: 'alive' | 'suspect' | 'dead' | 'left';
  lookup(key: string): StateValue | undefined;
}

/**
 * What the node needs from membership: the agent adapts `Membership` to it, the simulation and the
 * tests fake it (`testing.ts`).
 */
export interface KvMembershipView {
  /** Every known node (this one included or not) with its state and published state values. */
  members(): readonly KvMember[];
  /**
   * Publishes this node's ring advert: replaces every state value of this node whose key starts
   * with the advert prefix (`kv.`) by `values` (keys absent from `values` are deleted; an empty map
   * takes the node off the ring).
   */
  publish(values: ReadonlyMap<string, StateValue>): void;
  /** Calls `listener` on any change of members, their state or their values; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}

/** This node's own ring entry, as it knows it (ahead of gossip). */
export interface OwnEntry {
  readonly tokens: readonly Token[];
  readonly status: RingNodeStatus;
  readonly resp?: string;
}

/**
 * The ring as this node sees it: rebuilt from membership's adverts on every change, with this
 * node's own entry taken from its own state (so a status change applies here at once, not after
 * a gossip round). Dead members and members that left membership stay on the ring while their
 * last advert still lists tokens (their ranges are still theirs: writes for them are hinted, and
 * Cassandra keeps a shut-down node on its ring the same way); {@link isAlive} says they are not
 * worth a request. A node leaves the ring by publishing the departure marker (`kv.off`,
 * `advert.ts`) in place of its advert, which decommission does once its ranges are streamed away:
 * a clean stop (a restart) is a membership leave, not a ring change, and taking its ranges at once
 * would hand them to nodes without its data (the fault lab found a stale QUORUM read that way). A
 * listed member whose state shows neither an advert nor the marker keeps its last advert: a
 * restarted node's peers drop its old state with its old generation, and its advert is missing
 * until it publishes it again.
 *
 * Removals (`removenode`, see `ring/removals.ts`): a normal node announced `removing` by any member
 * reads as `leaving`, one announced `removed` is left off, as long as its advert still lists the tokens
 * the removal names. This node announces its own removals and adopts every `removed` one it sees
 * (while it is on the ring, up to REMOVAL_LIMITS.maxRemovals), so a removal outlives the node
 * that made it; it drops one once the removed node has left membership (reaped) or advertises
 * other tokens (it came back as a new node).
 *
 * Ghosts (`ring/ghosts.ts`): membership holds state of live members only, so a node that starts
 * while another is down, or after membership reaped it, would not know its advert. This node
 * announces the adverts of the ring nodes it does not see up (any status, not removed; up to
 * GHOST_LIMITS.maxGhosts), and takes a ghost announced by a member it sees up for a node that
 * membership does not list at all (when announcers disagree, the advert most of them announce,
 * then the one whose first announcer's name sorts first). A node's own advert, when this node
 * has it, always wins. A removal applies to a ghost as to an advert, so removenode works on a node
 * membership has reaped; announcers drop a ghost once its node is removed, and removals are kept
 * while a ghost of their node is still announced.
 *
 * Memory (`engine/ring-memory.ts`, given through {@link RingMemoryOptions}): the other ring nodes
 * as this node last knew them are saved whenever that set changes, and {@link restore}d at start.
 * A remembered node stands in, for this node only (it is never announced as a ghost), until
 * membership or a ghost says where it is, or a removal applies to it: a node restarted while it
 * reaches no one (or before membership has brought it anything) places keys on the ring it knew,
 * not on a ring of itself alone. This node tells the nodes it only remembers as recalls
 * (`ring/recalls.ts`), votes no other node takes as adverts. Once this node has been in contact
 * for `settleMs` (the ring delay, the time a ring change takes to spread) with live ring nodes
 * (members up that publish their own advert: the voters), it decides each node still only
 * remembered: one that every voter mentions too (as a recall or a ghost, with the same tokens) is
 * kept for good (announced as a ghost from then on, until membership shows the node's own state
 * or a removal applies), since the whole cluster restarted while it was down and none of them
 * holds its advert from membership; one that some voter denies is forgotten, since that voter saw
 * it leave the ring (decommissioned or removed while this node was down). A voter denies a node
 * that a member up recalls and that its own ring does not hold with the recalled tokens
 * (`kv.deny.<i>`, `ring/recalls.ts`), once `settleMs` has passed since it read its memory (a node
 * just started may not have received a ghost yet). A node neither all mention nor any deny stays remembered,
 * standing in, and is decided again on every refresh: a voter that holds it on its ring (it sees
 * it up where this node does not) is silent, and forgetting it then would place its keys on other
 * replicas than the rest of the cluster does (a QUORUM read through such a voter missed a QUORUM
 * write through this node in the swarm, seed 20295).
 *
 * A member that membership lists with neither an advert nor a departure in its state and no last
 * advert here (learned from a peer after it went down, so its state never arrived) takes a ghost
 * as an unlisted one does.
 *
 * A malformed advert or ghost leaves that node off the ring (logged); a ring that fails to build
 * keeps the previous one.
 */
/** How a {@link RingTracker} keeps its memory of the ring. */
export interface RingMemoryOptions {
  readonly clock: Clock;
  /** How long contact with a live ring node must last before what is only remembered is forgotten. */
  readonly settleMs: number;
  /** Stores the other ring nodes (called when the set changes, after {@link RingTracker.restore}). */
  readonly save: (nodes: RingNode[]) => void;
}

export class RingTracker {
  private ring: RingPort;
  private readonly members = new Map<string, KvMember>();
  /** Adverts of the other members as published (before removals apply), by name. */
  private readonly adverts = new Map<string, Omit<RingNode, 'name'>>();
  /** Token digests of the adverts, computed once per refresh ({@link advertDigest}). */
  private readonly digests = new Map<string, number | undefined>();
  private own: OwnEntry | undefined;
  /** The removals this node announces: its own, and the `removed` ones it adopted. */
  private removals: RingRemoval[] = [];
  /** The ghosts this node announces: ring nodes it does not see up. */
  private ghosts: RingNode[] = [];
  /** Each listed member's last advert with tokens, kept while its state shows none and no departure. */
  private readonly lastAdverts = new Map<string, Omit<RingNode, 'name'>>();
  /** Names of the ghosts left out over GHOST_LIMITS.maxGhosts (logged once per change). */
  private ghostsLeftOut = '';
  private selfRemoved: ((by: string) => void) | undefined;
  /** Ring nodes remembered from before this start, not yet confirmed or forgotten. */
  private readonly remembered = new Map<string, Omit<RingNode, 'name'>>();
  /** Names on the ring this refresh only because they are remembered. */
  private readonly fromMemory = new Set<string>();
  /** Remembered nodes every voter also mentioned when this node settled: kept until membership shows them. */
  private readonly confirmed = new Map<string, Omit<RingNode, 'name'>>();
  /** The recalls this node announces: the nodes it only remembers. */
  private recalls: RingRecall[] = [];
  /** The denials this node announces: recalled nodes its ring does not hold with those tokens. */
  private denials: RingRecall[] = [];
  /** The other nodes on the ring after the last refresh (not removed), by name. */
  private lastRing = new Map<string, Omit<RingNode, 'name'>>();
  /** Since when this node is in contact with a live ring node (undefined: not in contact). */
  private contactSince: number | undefined = undefined;
  private settleTimer: TimerHandle | undefined = undefined;
  /** The memory has been restored: saving may begin (it must not overwrite it before). */
  private restored = false;
  /** From when this node answers recalls (its memory read, then the settle time); see keepDenials. */
  private answerFrom = Number.POSITIVE_INFINITY;
  private answerTimer: TimerHandle | undefined = undefined;
  /** Other ring nodes were remembered at start, and no live ring node has been heard since. */
  private unheard = false;
  /** What was last saved (names, statuses and token digests), to save only on a change. */
  private savedSignature = '';

  constructor(
    private readonly self: string,
    private readonly view: KvMembershipView,
    private readonly engines: KvEngines,
    private readonly rf: number,
    private readonly logger: Logger,
    private readonly memory?: RingMemoryOptions,
  ) {
    this.ring = engines.buildRing([], rf);
    this.refresh();
  }

  /**
   * Takes the ring remembered from before this start (see the class comment) and rebuilds the
   * ring; saving the memory begins here.
   */
  restore(nodes: readonly RingNode[]): void {
    for (const n of nodes) {
      if (n.name === this.self) continue;
      this.remembered.set(n.name, n);
    }
    this.unheard = this.remembered.size > 0;
    this.restored = true;
    if (this.memory !== undefined) this.answerFrom = this.memory.clock.now() + this.memory.settleMs;
    this.refresh();
  }

  /**
   * Why this node cannot place keys yet, or undefined: it remembered other ring nodes at start
   * and has heard no live ring node since (membership brought no member up that publishes its own
   * advert, nor accounted for every remembered node), so its ring may miss changes made while it
   * was down or cut off.
   */
  ringUnknown(): string | undefined {
    if (!this.unheard) return undefined;
    return `kv node ${this.self} restarted and has not yet heard from any live ring node; its ring is only remembered and may miss changes made meanwhile`;
  }

  /** Names on the ring only because this node remembers them (for tests and status). */
  rememberedOnly(): string[] {
    return [...this.fromMemory];
  }

  /** Stops the settle and answer timers (the node stopped). */
  dispose(): void {
    if (this.settleTimer !== undefined) this.memory?.clock.cancel(this.settleTimer);
    this.settleTimer = undefined;
    if (this.answerTimer !== undefined) this.memory?.clock.cancel(this.answerTimer);
    this.answerTimer = undefined;
  }

  /** The current ring. */
  current(): RingPort {
    return this.ring;
  }

  /** This node's own entry, if it is on the ring. */
  ownEntry(): OwnEntry | undefined {
    return this.own;
  }

  /** Sets this node's entry (undefined: off the ring), publishes it and rebuilds the ring. */
  setOwn(entry: OwnEntry | undefined): void {
    this.own = entry;
    if (entry === undefined) {
      this.removals = [];
      this.ghosts = [];
      this.recalls = [];
    }
    this.publish();
    this.refresh();
  }

  private publish(): void {
    const entry = this.own;
    if (entry === undefined) {
      this.view.publish(new Map([[OFF_RING_KEY, Uint8Array.of(1)]]));
      return;
    }
    const advert: Omit<RingNode, 'name'> =
      entry.resp === undefined
        ? { tokens: entry.tokens, status: entry.status }
        : { tokens: entry.tokens, status: entry.status, resp: entry.resp };
    const values = new Map<string, StateValue>(this.engines.encodeRingAdvert(advert));
    for (const [key, value] of encodeRemovals(this.removals)) values.set(key, value);
    for (const [key, value] of encodeGhosts(this.ghosts)) values.set(key, value);
    for (const [key, value] of encodeRecalls(this.recalls)) values.set(key, value);
    for (const [key, value] of encodeDenials(this.denials)) values.set(key, value);
    this.view.publish(values);
  }

  /** The tokens `name` advertises now (before removals apply), if it advertises any. */
  advertisedTokens(name: string): readonly Token[] | undefined {
    const tokens = this.adverts.get(name)?.tokens;
    return tokens !== undefined && tokens.length > 0 ? tokens : undefined;
  }

  /** The removals this node announces. */
  announced(): readonly RingRemoval[] {
    return this.removals;
  }

  /** The ghosts this node announces (ring nodes it does not see up). */
  announcedGhosts(): readonly RingNode[] {
    return this.ghosts;
  }

  /**
   * Announces this node's removal of `node` in `phase`, replacing any announcement of it; with no
   * phase, withdraws it.
   *
   * @throws RangeError when this node already announces REMOVAL_LIMITS.maxRemovals removals
   */
  announce(node: string, digest: number, phase: RingRemoval['phase'] | undefined): void {
    const rest = this.removals.filter((r) => r.node !== node);
    if (phase !== undefined) {
      if (rest.length >= REMOVAL_LIMITS.maxRemovals)
        throw new RangeError(`this node already announces ${rest.length} removals`);
      rest.push({ node, digest, phase });
    }
    this.removals = rest;
    this.publish();
    this.refresh();
  }

  /**
   * Calls `listener` with the announcing member's name when some member announces this node
   * `removed` (with its advert's tokens).
   */
  onSelfRemoved(listener: (by: string) => void): void {
    this.selfRemoved = listener;
  }

  /** Other kv nodes on the ring (any status), as adverts show them. */
  others(): RingNode[] {
    return this.ring.info().nodes.filter((n) => n.name !== this.self);
  }

  /** True for this node, and for members membership shows alive or suspect. */
  isAlive(name: string): boolean {
    if (name === this.self) return true;
    const m = this.members.get(name);
    return m !== undefined && up(m);
  }

  /** The transport address of a member. */
  addressOf(name: string): Address | undefined {
    return this.members.get(name)?.address;
  }

  /** Rebuilds the ring from membership. */
  refresh(): void {
    this.members.clear();
    this.adverts.clear();
    this.digests.clear();
    const announced: RingRemoval[] = [...this.removals];
    /** Ghosts announced by members up, by node name, then by advert, with their announcers. */
    const ghosts = new Map<string, GhostVotes[]>();
    /** Members whose advert here comes from their own state (now or last). */
    const fromMembers = new Set<string>();
    /** Members whose state shows the departure marker (or an advert without tokens). */
    const offRing = new Set<string>();
    /** The voters: members up that publish their own advert, with their ghosts and recalls. */
    const voters: Voter[] = [];
    /** What members up recall (to be denied when this node's ring does not hold it), by mention. */
    const recalled = new Map<string, RingRecall>();
    let selfRemovedBy: string | undefined;
    for (const m of this.view.members()) {
      if (m.name === this.self) continue;
      this.members.set(m.name, m);
      let advert: Omit<RingNode, 'name'> | undefined;
      try {
        advert = this.engines.decodeRingAdvert((key) => m.lookup(key));
      } catch (err) {
        this.logger.warn({ node: m.name, err: describeError(err) }, 'ignoring a malformed ring advert');
      }
      let published = false;
      if (advert !== undefined && advert.tokens.length > 0) {
        published = true;
        this.adverts.set(m.name, advert);
        this.lastAdverts.set(m.name, advert);
        fromMembers.add(m.name);
      } else if (advert === undefined && !isOffRing((key) => m.lookup(key))) {
        // No advert and no departure: restarted (a new generation, its advert not yet out again)
        // or not yet heard from. Its last advert stands until it publishes one or leaves.
        const last = this.lastAdverts.get(m.name);
        if (last !== undefined) {
          this.adverts.set(m.name, last);
          fromMembers.add(m.name);
        }
      } else {
        this.lastAdverts.delete(m.name);
        offRing.add(m.name);
      }
      if (up(m)) {
        const itsGhosts = decodeGhosts((key) => m.lookup(key));
        for (const g of itsGhosts) countGhost(ghosts, g, m.name);
        const itsRecalls = decodeRecalls((key) => m.lookup(key));
        for (const r of itsRecalls) recalled.set(mention(r.node, r.digest), r);
        if (published) voters.push({ member: m, ghosts: itsGhosts, recalls: itsRecalls });
      }
      // Only this node's own digest is read here; the others' are read below, once the ghosts and
      // the memory have added their adverts.
      for (const r of decodeRemovals((key) => m.lookup(key))) {
        announced.push(r);
        if (r.node === this.self && r.phase === 'removed' && this.applies(r)) selfRemovedBy ??= m.name;
      }
    }
    for (const name of this.lastAdverts.keys()) if (!this.members.has(name)) this.lastAdverts.delete(name);
    // A ghost stands for a node membership does not list (never learned, or reaped), or lists with
    // nothing of its state (learned from a peer after it went down).
    for (const [name, votes] of ghosts) {
      if (name === this.self || this.adverts.has(name) || offRing.has(name)) continue;
      this.adverts.set(name, pickGhost(votes));
    }
    for (const [name, advert] of this.confirmed) {
      if (fromMembers.has(name) || offRing.has(name)) this.confirmed.delete(name);
      else if (!this.adverts.has(name)) this.adverts.set(name, advert);
    }
    if (this.memory !== undefined && this.restored) {
      for (const [name, advert] of this.lastRing) {
        if (this.adverts.has(name) || offRing.has(name) || this.remembered.has(name)) continue;
        // On the ring a moment ago, and now nothing accounts for it and nothing says it left: the
        // only member that announced its ghost restarted (a new generation, its ghosts not out
        // again), say. It stands in as remembered until the voters decide, as after a start.
        this.remembered.set(name, advert);
        this.contactSince = undefined;
      }
    }
    this.useMemory(voters);
    const removed = new Set<string>();
    const removing = new Set<string>();
    for (const r of announced) {
      if (r.node !== this.self && this.applies(r)) (r.phase === 'removed' ? removed : removing).add(r.node);
    }
    const nodes: RingNode[] = [];
    for (const [name, advert] of this.adverts) {
      if (removed.has(name)) continue;
      // A removal reads a normal node as leaving (its ranges get pending owners); a joining node
      // owns nothing yet and stays as it is until it is removed.
      const leaving = removing.has(name) && advert.status === 'normal';
      nodes.push(leaving ? { ...advert, status: 'leaving', name } : { ...advert, name });
    }
    for (const name of removed) {
      this.remembered.delete(name);
      this.confirmed.delete(name);
    }
    this.lastRing = new Map();
    for (const [name, advert] of this.adverts) if (!removed.has(name)) this.lastRing.set(name, advert);
    if (this.own !== undefined) nodes.push({ ...this.own, name: this.self });
    try {
      this.ring = this.engines.buildRing(nodes, this.rf);
    } catch (err) {
      this.logger.warn(
        { err: describeError(err) },
        'the ring did not build from the adverts; keeping the previous one',
      );
    }
    this.saveMemory(removed);
    if (this.own !== undefined) {
      const removalsChanged = this.keepRemovals(announced);
      const ghostsChanged = this.keepGhosts(removed);
      const recallsChanged = this.keepRecalls(removed);
      const denialsChanged = this.keepDenials(recalled, removed);
      if (removalsChanged || ghostsChanged || recallsChanged || denialsChanged) this.publish();
    }
    if (selfRemovedBy !== undefined) this.selfRemoved?.(selfRemovedBy);
  }

  /**
   * Puts the remembered nodes that nothing live accounts for on the ring (adverts), forgets the
   * ones membership or a ghost now accounts for, and, once contact with the voters (up members
   * publishing their own advert) has lasted `settleMs`, keeps for good what every voter mentions
   * and forgets the rest.
   */
  private useMemory(voters: readonly Voter[]): void {
    this.fromMemory.clear();
    const memory = this.memory;
    for (const name of this.remembered.keys()) if (this.adverts.has(name)) this.remembered.delete(name);
    if (voters.length > 0 || this.remembered.size === 0) this.unheard = false;
    if (memory === undefined || this.remembered.size === 0) return;
    const now = memory.clock.now();
    if (voters.length === 0) this.contactSince = undefined;
    else this.contactSince ??= now;
    if (this.contactSince !== undefined && now - this.contactSince >= memory.settleMs) {
      // What each voter mentions and denies is read here, at the decision, not on every refresh.
      const mentioned = voters.map(mentionsOf);
      const denied = new Set<string>();
      for (const v of voters) {
        for (const r of decodeDenials((key) => v.member.lookup(key))) denied.add(mention(r.node, r.digest));
      }
      const forgotten: string[] = [];
      const kept: string[] = [];
      for (const [name, advert] of this.remembered) {
        const said = mention(name, tokensDigest(advert.tokens));
        if (denied.has(said)) {
          forgotten.push(name);
          continue;
        }
        let everyone = true;
        for (const mentions of mentioned) everyone &&= mentions.has(said);
        if (!everyone) {
          // Undecided: a voter holds it on its ring, or has not answered yet. It stands in.
          this.adverts.set(name, advert);
          this.fromMemory.add(name);
          continue;
        }
        kept.push(name);
        this.confirmed.set(name, advert);
        this.adverts.set(name, advert);
      }
      if (forgotten.length > 0)
        this.logger.info({ forgotten }, 'forgetting remembered ring nodes that a live node denies');
      if (kept.length > 0)
        this.logger.info({ kept }, 'keeping remembered ring nodes that every live node remembers too');
      for (const name of forgotten) this.remembered.delete(name);
      for (const name of kept) this.remembered.delete(name);
      return;
    }
    for (const [name, advert] of this.remembered) {
      this.adverts.set(name, advert);
      this.fromMemory.add(name);
    }
    if (this.contactSince !== undefined && this.settleTimer === undefined) {
      this.settleTimer = memory.clock.setTimer(this.contactSince + memory.settleMs - now, () => {
        this.settleTimer = undefined;
        this.refresh();
      });
    }
  }

  /** Saves the other ring nodes when that set changed (once the memory was restored). */
  private saveMemory(removed: ReadonlySet<string>): void {
    if (this.memory === undefined || !this.restored) return;
    const nodes: RingNode[] = [];
    for (const [name, advert] of this.adverts) if (!removed.has(name)) nodes.push({ ...advert, name });
    nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const signature = nodes
      .map((n) => `${n.name}/${n.status}/${n.resp ?? ''}/${this.advertDigest(n.name)}`)
      .join(' ');
    if (signature === this.savedSignature) return;
    this.savedSignature = signature;
    this.memory.save(nodes);
  }

  /**
   * Sets the recalls this node announces: the nodes on its ring only from memory (not removed), by
   * name, at most RECALL_LIMITS.maxRecalls. Returns true when the list changed.
   */
  private keepRecalls(removed: ReadonlySet<string>): boolean {
    const recalls: RingRecall[] = [];
    for (const node of [...this.fromMemory].sort()) {
      const digest = this.advertDigest(node);
      if (removed.has(node) || digest === undefined) continue;
      if (recalls.length === RECALL_LIMITS.maxRecalls) break;
      recalls.push({ node, digest });
    }
    const changed = !sameNotes(recalls, this.recalls);
    if (changed) this.recalls = recalls;
    return changed;
  }

  /**
   * Denies each recall of a member up that this node's ring does not hold with the recalled tokens
   * (not on it, removed, or with other tokens), in name order up to RECALL_LIMITS.maxDenials;
   * true when the set changed.
   */
  private keepDenials(recalled: ReadonlyMap<string, RingRecall>, removed: ReadonlySet<string>): boolean {
    const denials: RingRecall[] = [];
    // Before its memory is read, and for the settle time after, this node's ring may lack what it
    // knew or what the others tell (a ghost not received yet): it answers nothing meanwhile.
    const memory = this.memory;
    const answering = memory === undefined || memory.clock.now() >= this.answerFrom;
    if (!answering && recalled.size > 0 && this.restored && this.answerTimer === undefined) {
      this.answerTimer = memory!.clock.setTimer(this.answerFrom - memory!.clock.now(), () => {
        this.answerTimer = undefined;
        this.refresh();
      });
    }
    const asked = answering
      ? [...recalled.values()].sort((a, b) =>
          a.node < b.node ? -1 : a.node > b.node ? 1 : a.digest - b.digest,
        )
      : [];
    for (const r of asked) {
      if (denials.length === RECALL_LIMITS.maxDenials) break;
      const holds = !removed.has(r.node) && this.advertDigest(r.node) === r.digest;
      if (!holds) denials.push(r);
    }
    const changed = !sameNotes(denials, this.denials);
    if (changed) this.denials = denials;
    return changed;
  }

  /** True when `r` names the tokens its node advertises now. */
  private applies(r: RingRemoval): boolean {
    return this.advertDigest(r.node) === r.digest;
  }

  /**
   * The token digest of what `name` advertises now (this node: its own entry), undefined when it
   * advertises no tokens. Kept per refresh: every member may announce the same removal.
   */
  private advertDigest(name: string): number | undefined {
    if (this.digests.has(name)) return this.digests.get(name);
    const tokens = name === this.self ? this.own?.tokens : this.adverts.get(name)?.tokens;
    const digest = tokens !== undefined && tokens.length > 0 ? tokensDigest(tokens) : undefined;
    this.digests.set(name, digest);
    return digest;
  }

  /**
   * True when `r` can no longer matter: its node left membership, or advertises other tokens (it
   * came back as a new node). A node that advertises nothing for now (restarting, or off the ring
   * after it saw its removal) keeps the removal: dropping it then would let the node's old
   * advert back onto the ring.
   */
  private outdated(r: RingRemoval): boolean {
    const digest = this.advertDigest(r.node);
    if (!this.members.has(r.node)) return digest !== r.digest;
    return digest !== undefined && digest !== r.digest;
  }

  /**
   * Sets the ghosts this node announces: the ring nodes (any status: a joining node is a pending
   * replica that writes must reach; not `removed`) that it does not see up, by name, at most
   * GHOST_LIMITS.maxGhosts. Returns true when the list changed.
   */
  private keepGhosts(removed: ReadonlySet<string>): boolean {
    const down: RingNode[] = [];
    for (const [name, advert] of this.adverts) {
      if (removed.has(name) || this.fromMemory.has(name) || this.isAlive(name)) continue;
      down.push({ ...advert, name });
    }
    down.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const kept = down.slice(0, GHOST_LIMITS.maxGhosts);
    const leftOut = down
      .slice(GHOST_LIMITS.maxGhosts)
      .map((g) => g.name)
      .join(',');
    if (leftOut !== this.ghostsLeftOut) {
      this.ghostsLeftOut = leftOut;
      if (leftOut !== '')
        this.logger.warn(
          { leftOut, max: GHOST_LIMITS.maxGhosts },
          'more ring nodes are down than this node announces as ghosts',
        );
    }
    const changed =
      kept.length !== this.ghosts.length || kept.some((g, i) => !sameRingNode(g, this.ghosts[i]!));
    if (changed) this.ghosts = kept;
    return changed;
  }

  /**
   * Drops own `removed` announcements that no longer apply and adopts the others' `removed` ones
   * (room permitting). Returns true when the list changed.
   */
  private keepRemovals(announced: readonly RingRemoval[]): boolean {
    const kept = this.removals.filter((r) => r.phase === 'removing' || !this.outdated(r));
    for (const r of announced) {
      if (kept.length >= REMOVAL_LIMITS.maxRemovals) break;
      if (r.phase !== 'removed' || r.node === this.self || !this.applies(r)) continue;
      if (kept.some((k) => k.node === r.node && k.digest === r.digest && k.phase === 'removed')) continue;
      const i = kept.findIndex((k) => k.node === r.node);
      if (i >= 0) continue; // this node's own removal of it is still running
      kept.push(r);
    }
    const changed = kept.length !== this.removals.length || kept.some((r, i) => r !== this.removals[i]);
    this.removals = kept;
    return changed;
  }
}

/** A member up that publishes its own advert, with the ghosts it announces and the nodes it recalls. */
interface Voter {
  readonly member: KvMember;
  readonly ghosts: readonly RingNode[];
  readonly recalls: readonly RingRecall[];
}

/** How a voter's mention of a node (a recall or a ghost) is keyed: name and token digest. */
function mention(node: string, digest: number): string {
  return `${digest}/${node}`;
}

/** The nodes `v` mentions: the ghosts it announces and the nodes it recalls. */
function mentionsOf(v: Voter): Set<string> {
  const said = new Set<string>();
  for (const g of v.ghosts) said.add(mention(g.name, tokensDigest(g.tokens)));
  for (const r of v.recalls) said.add(mention(r.node, r.digest));
  return said;
}

/** True when two lists of recalls (or denials) name the same nodes and digests in the same order. */
function sameNotes(a: readonly RingRecall[], b: readonly RingRecall[]): boolean {
  return a.length === b.length && a.every((r, i) => r.node === b[i]!.node && r.digest === b[i]!.digest);
}

/** True for a member membership shows alive or suspect. */
function up(m: KvMember): boolean {
  return m.state === 'alive' || m.state === 'suspect';
}

/** One advert announced as a ghost, and who announces it. */
interface GhostVotes {
  readonly ghost: RingNode;
  readonly announcers: string[];
}

function countGhost(ghosts: Map<string, GhostVotes[]>, g: RingNode, announcer: string): void {
  let votes = ghosts.get(g.name);
  if (votes === undefined) {
    votes = [];
    ghosts.set(g.name, votes);
  }
  const same = votes.find((v) => sameRingNode(v.ghost, g));
  if (same !== undefined) same.announcers.push(announcer);
  else votes.push({ ghost: g, announcers: [announcer] });
}

/** The advert most announcers agree on; at a tie, the one whose first announcer sorts first. */
function pickGhost(votes: readonly GhostVotes[]): RingNode {
  let best = votes[0]!;
  let bestFirst = minName(best.announcers);
  for (const v of votes.slice(1)) {
    const first = minName(v.announcers);
    if (
      v.announcers.length > best.announcers.length ||
      (v.announcers.length === best.announcers.length && first < bestFirst)
    ) {
      best = v;
      bestFirst = first;
    }
  }
  return best.ghost;
}

function minName(names: readonly string[]): string {
  let min = names[0]!;
  for (const n of names) if (n < min) min = n;
  return min;
}

function sameRingNode(a: RingNode, b: RingNode): boolean {
  if (a.name !== b.name || a.status !== b.status || a.resp !== b.resp || a.tokens.length !== b.tokens.length)
    return false;
  for (let i = 0; i < a.tokens.length; i++) if (a.tokens[i] !== b.tokens[i]) return false;
  return true;
}
