import { describeError, type Logger } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { Address } from '../../transport/types.js';
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
 * a gossip round). Members that left membership are off the ring; dead ones stay on it (their
 * ranges are still theirs: writes for them are hinted, and Cassandra does the same), but
 * {@link isAlive} says they are not worth a request.
 *
 * A malformed advert leaves that node off the ring (logged); a ring that fails to build keeps the
 * previous one.
 */
export class RingTracker {
  private ring: RingPort;
  private readonly members = new Map<string, KvMember>();
  private own: OwnEntry | undefined;

  constructor(
    private readonly self: string,
    private readonly view: KvMembershipView,
    private readonly engines: KvEngines,
    private readonly rf: number,
    private readonly logger: Logger,
  ) {
    this.ring = engines.buildRing([], rf);
    this.refresh();
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
    if (entry === undefined) this.view.publish(new Map());
    else {
      const advert: Omit<RingNode, 'name'> =
        entry.resp === undefined
          ? { tokens: entry.tokens, status: entry.status }
          : { tokens: entry.tokens, status: entry.status, resp: entry.resp };
      this.view.publish(this.engines.encodeRingAdvert(advert));
    }
    this.refresh();
  }

  /** Other kv nodes on the ring (any status), as adverts show them. */
  others(): RingNode[] {
    return this.ring.info().nodes.filter((n) => n.name !== this.self);
  }

  /** True for this node, and for members membership shows alive or suspect. */
  isAlive(name: string): boolean {
    if (name === this.self) return true;
    const m = this.members.get(name);
    return m !== undefined && (m.state === 'alive' || m.state === 'suspect');
  }

  /** The transport address of a member. */
  addressOf(name: string): Address | undefined {
    return this.members.get(name)?.address;
  }

  /** Rebuilds the ring from membership. */
  refresh(): void {
    this.members.clear();
    const nodes: RingNode[] = [];
    for (const m of this.view.members()) {
      if (m.name === this.self) continue;
      this.members.set(m.name, m);
      if (m.state === 'left') continue;
      let advert: Omit<RingNode, 'name'> | undefined;
      try {
        advert = this.engines.decodeRingAdvert((key) => m.lookup(key));
      } catch (err) {
        this.logger.warn({ node: m.name, err: describeError(err) }, 'ignoring a malformed ring advert');
      }
      if (advert !== undefined && advert.tokens.length > 0) nodes.push({ ...advert, name: m.name });
    }
    if (this.own !== undefined) nodes.push({ ...this.own, name: this.self });
    try {
      this.ring = this.engines.buildRing(nodes, this.rf);
    } catch (err) {
      this.logger.warn(
        { err: describeError(err) },
        'the ring did not build from the adverts; keeping the previous one',
      );
    }
  }
}
