import type { KvMember, KvMembershipView } from '../kv/cluster/ring-tracker.js';
import { RING_STATE_PREFIX } from '../kv/ring/advert.js';
import type { LocalState } from '../membership/driver/options.js';
import type { Member, MembershipEvent, MembershipEventType, StateValue } from '../membership/types.js';

/**
 * The kv node's view of membership, over the agent's `Membership`.
 *
 * - `members()`: every member by name. Membership keys members by id and names need not be
 *   unique (a node whose data directory was wiped comes back with a new id and the old one lingers
 *   as dead), while the ring keys nodes by name: for a name held by several members the one that
 *   membership shows alive (or suspect) wins, then the one whose state changed last.
 * - `publish(values)`: replaces this node's `kv.*` state keys with `values` (keys it no longer has
 *   are deleted, so a shorter advert leaves no stale chunk behind); values equal to the current
 *   ones are not set again (each set is a new signed version gossiped to every node).
 * - `onChange(listener)`: called after member joins, state changes and changes of `kv.*` keys of
 *   any node; other keys (the store's advert) do not concern the ring. Calls are coalesced into one
 *   per microtask and never made from inside `publish` or a membership event handler, so a
 *   listener may publish without re-entering itself.
 */

/** The part of `Membership` the view uses (tests pass a fake). */
export interface MembershipSource {
  members(): Member[];
  readonly local: LocalState;
  on<T extends MembershipEventType>(
    type: T,
    handler: (event: Extract<MembershipEvent, { type: T }>) => void,
  ): () => void;
}

const STATE_EVENTS = ['join', 'alive', 'suspect', 'dead', 'leave'] as const;

const LIVE_FIRST: Readonly<Record<Member['state'], number>> = { alive: 0, suspect: 0, dead: 1, left: 2 };

/** The member that speaks for a name: live before dead before left, then the latest change. */
function preferred(a: Member, b: Member): Member {
  const rank = LIVE_FIRST[a.state] - LIVE_FIRST[b.state];
  if (rank !== 0) return rank < 0 ? a : b;
  return b.stateSinceMs > a.stateSinceMs ? b : a;
}

function sameValue(a: StateValue | undefined, b: StateValue): boolean {
  if (a === undefined) return false;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Adapts `membership` to the kv node's {@link KvMembershipView}; see the file comment.
 *
 * @example
 * ```ts
 * const view = membershipKvView(membershipRole.membership!);
 * const node = await KvNode.start({ name, view, transport: mux.channel(KV_CHANNEL), ... });
 * ```
 */
export function membershipKvView(membership: MembershipSource): KvMembershipView & { close(): void } {
  const listeners = new Set<() => void>();
  const published = new Set<string>();
  let scheduled = false;
  let closed = false;
  const notify = () => {
    if (scheduled || closed) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (closed) return;
      for (const listener of [...listeners]) listener();
    });
  };
  const unsubscribes = [
    ...STATE_EVENTS.map((type) => membership.on(type, notify)),
    membership.on('update', (event) => {
      if (event.key.startsWith(RING_STATE_PREFIX)) notify();
    }),
  ];
  return {
    members(): readonly KvMember[] {
      const byName = new Map<string, Member>();
      for (const m of membership.members()) {
        const prior = byName.get(m.name);
        byName.set(m.name, prior === undefined ? m : preferred(prior, m));
      }
      return [...byName.values()].map((m) => ({
        name: m.name,
        address: m.address,
        state: m.state,
        lookup: (key: string) => m.metadata[key],
      }));
    },
    publish(values: ReadonlyMap<string, StateValue>): void {
      const own = membership.members().find((m) => m.local)?.metadata ?? {};
      const held = [...published, ...Object.keys(own).filter((k) => k.startsWith(RING_STATE_PREFIX))];
      for (const key of new Set(held)) {
        if (!values.has(key)) {
          membership.local.delete(key);
          published.delete(key);
        }
      }
      for (const [key, value] of values) {
        if (!key.startsWith(RING_STATE_PREFIX)) continue;
        if (!sameValue(membership.local.get(key), value)) membership.local.set(key, value);
        published.add(key);
      }
      notify();
    },
    onChange(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close(): void {
      closed = true;
      listeners.clear();
      for (const unsubscribe of unsubscribes) unsubscribe();
    },
  };
}
