import { createHash } from 'node:crypto';
import type { Member } from '../membership/types.js';

/**
 * How the `store` role finds its raft group through membership: pure decisions, no IO.
 *
 * - A member's raft id (its etcd member id) is derived from its node name, so every node computes
 *   every other node's id from the names in `store.initialCluster` without a round trip.
 * - A store node publishes `store` in its membership state: its member id and etcd API address.
 * - On a first start, a node named in `store.initialCluster` bootstraps with exactly those voters
 *   (an empty list means the node alone); any other node bootstraps nothing and waits for the
 *   leader to add it as a learner, which the leader does for every live member that publishes
 *   `store` and is not in the group yet. Promotion is explicit (etcd's MemberPromote), and the
 *   store refuses it until the learner has caught up.
 */

/** The membership state key a store node publishes. */
export const STORE_STATE_KEY = 'store';

/** The member id of node `name`: 52 bits of SHA-256 of the name, never 0. */
export function memberIdFromName(name: string): number {
  const digest = createHash('sha256').update(`cairn-store-member\0${name}`).digest();
  const high = digest.readUInt32BE(0) & 0xfffff; // 20 bits
  const low = digest.readUInt32BE(4); // 32 bits
  const id = high * 2 ** 32 + low;
  return id === 0 ? 1 : id;
}

/** A member id as etcdctl prints it: 16 lowercase hex digits. */
export function formatMemberId(id: number): string {
  return id.toString(16).padStart(16, '0');
}

/** What a node does on its first start. */
export type BootstrapPlan =
  | { readonly kind: 'bootstrap'; readonly voters: readonly { name: string; id: number }[] }
  | { readonly kind: 'join' };

/** The plan of node `name` given `store.initialCluster`. */
export function bootstrapPlan(name: string, initialCluster: readonly string[]): BootstrapPlan {
  const names = initialCluster.length === 0 ? [name] : initialCluster;
  if (!names.includes(name)) return { kind: 'join' };
  return { kind: 'bootstrap', voters: names.map((n) => ({ name: n, id: memberIdFromName(n) })) };
}

/** What a store node publishes in membership. */
export interface StoreAdvert {
  /** Member id, 16 hex digits. */
  readonly id: string;
  /** The etcd API address, host:port. */
  readonly etcd: string;
  /**
   * The id of the raft group the node belongs to (16 hex digits), or `''` while it belongs to none
   * and waits to be added. A leader adds only nodes that belong to no group: a node that
   * bootstrapped a store of its own is never pulled into another one.
   */
  readonly cluster: string;
}

/** The advert's text form (a membership state value). */
export function encodeAdvert(advert: StoreAdvert): string {
  return JSON.stringify({ id: advert.id, etcd: advert.etcd, cluster: advert.cluster });
}

/** Parses a peer's advert; undefined for anything malformed (peers are not trusted to be well-formed). */
export function decodeAdvert(value: unknown): StoreAdvert | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { id, etcd, cluster } = parsed as { id?: unknown; etcd?: unknown; cluster?: unknown };
    if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) return undefined;
    if (typeof etcd !== 'string' || etcd.length === 0 || etcd.length > 300) return undefined;
    if (typeof cluster !== 'string' || !/^([0-9a-f]{16})?$/.test(cluster)) return undefined;
    return { id, etcd, cluster };
  } catch {
    return undefined;
  }
}

/** A live store node found through membership. */
export interface StorePeer {
  readonly id: number;
  readonly name: string;
  /** Its gossip address, where raft traffic goes. */
  readonly address: string;
  /** Its etcd API address. */
  readonly etcd: string;
  /** The raft group it belongs to (16 hex digits), or `''` for none yet. */
  readonly cluster: string;
}

/**
 * The store nodes membership lists alive or suspect whose advert is well formed and whose id is the
 * one their name gives (a node cannot claim another's id).
 */
export function storePeers(members: readonly Member[]): StorePeer[] {
  const peers: StorePeer[] = [];
  for (const m of members) {
    if (m.state !== 'alive' && m.state !== 'suspect') continue;
    const advert = decodeAdvert(m.metadata[STORE_STATE_KEY]);
    if (advert === undefined) continue;
    const id = memberIdFromName(m.name);
    if (formatMemberId(id) !== advert.id) continue;
    peers.push({ id, name: m.name, address: m.address, etcd: advert.etcd, cluster: advert.cluster });
  }
  return peers;
}

/**
 * The live store nodes the leader should add as learners: those in no group yet and not in this
 * one, at most `max` at a time (raft takes one configuration change at a time), in name order.
 */
export function learnersToAdd(
  peers: readonly StorePeer[],
  groupIds: ReadonlySet<number>,
  max = 1,
): StorePeer[] {
  return peers
    .filter((p) => p.cluster === '' && !groupIds.has(p.id))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, max);
}
