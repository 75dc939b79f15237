import { decode, encode, type Storage, tryDecode, utf8, type Validator, v } from '../../core/index.js';
import type { ConfChange } from '../../raft/types.js';
import type { Member } from '../api.js';
import { DEFAULT_LIMITS, type StoreServerLimits } from './limits.js';

/**
 * The member table: who is in the cluster (voter or learner) with the metadata raft does not
 * know (name, peer and client URLs). It changes only by applying committed conf changes (whose
 * `context` carries the metadata, see {@link encodeMemberContext}), so every member holds the
 * same table at the same applied index. It is durable on its own key, written with a synced batch
 * on every change (changes are rare), and travels inside the store's snapshot.
 *
 * Contract: {@link applyConfChange} is idempotent by raft index (an index at or below the
 * table's is skipped), so a restart that replays the log's tail leaves the table unchanged.
 * It mirrors the raft core's rules: `addLearner` of an existing voter is ignored (raft refuses
 * it); `addNode` of a learner promotes it and keeps its metadata.
 */

/** What a conf change's context carries. */
export interface MemberMeta {
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  /** The cluster's id, so a member that joins later learns it from its own conf change. */
  readonly clusterId?: number;
}

/** The table's storage key (inside the server's own prefixed view). */
const TABLE_KEY = utf8('members');

function metaShape(limits: StoreServerLimits) {
  const field = v.string({ maxLength: limits.maxMemberFieldLength });
  return {
    name: field,
    peerUrls: v.array(field, { maxLength: limits.maxMemberUrls }),
    clientUrls: v.array(field, { maxLength: limits.maxMemberUrls }),
  };
}

const clusterIdV = v.uint({ max: Number.MAX_SAFE_INTEGER });

/** The table's image: what is stored and what a snapshot carries. */
export interface MemberImage {
  readonly index: number;
  readonly clusterId: number;
  readonly members: readonly Member[];
}

function memberValidator(limits: StoreServerLimits): Validator<Member> {
  return v.object({
    id: v.uint({ max: Number.MAX_SAFE_INTEGER }),
    isLearner: v.boolean(),
    ...metaShape(limits),
  });
}

/** Validator of the durable table and of its image inside a snapshot. */
export function memberTableValidator(limits: StoreServerLimits = DEFAULT_LIMITS): Validator<MemberImage> {
  return v.object({
    index: v.uint({ max: Number.MAX_SAFE_INTEGER }),
    clusterId: clusterIdV,
    members: v.array(memberValidator(limits), { maxLength: limits.maxMembers }),
  });
}

/** Encodes the metadata a conf change carries in its `context`. */
export function encodeMemberContext(meta: MemberMeta): Uint8Array {
  const base = { name: meta.name, peerUrls: [...meta.peerUrls], clientUrls: [...meta.clientUrls] };
  return encode(meta.clusterId === undefined ? base : { ...base, clusterId: meta.clusterId });
}

/** Decodes a conf change's context; `undefined` when absent or malformed (the change still applies). */
export function decodeMemberContext(
  context: Uint8Array | undefined,
  limits: StoreServerLimits = DEFAULT_LIMITS,
): MemberMeta | undefined {
  if (context === undefined || context.length === 0) return undefined;
  const meta = tryDecode(context, v.object({ ...metaShape(limits), clusterId: v.optional(clusterIdV) }));
  if (meta === undefined) return undefined;
  const { clusterId, ...rest } = meta;
  return clusterId === undefined ? rest : { ...rest, clusterId };
}

/** The member table. */
export class MemberTable {
  private readonly members = new Map<number, Member>();
  private appliedIndex = 0;
  private cluster = 0;

  /**
   * @param storage - where the table is kept (a view of its own: the key is fixed)
   * @param limits - the server's limits
   */
  constructor(
    private readonly storage: Storage,
    private readonly limits: StoreServerLimits = DEFAULT_LIMITS,
  ) {}

  /** Loads the durable table (empty when never written). */
  async load(): Promise<void> {
    const bytes = await this.storage.get(TABLE_KEY);
    if (bytes === undefined) return;
    this.replace(decode(bytes, memberTableValidator(this.limits)));
  }

  /** The raft index of the last change applied to the table. */
  get index(): number {
    return this.appliedIndex;
  }

  /** The cluster id, 0 until known (seeded at bootstrap, or learned from a conf change or snapshot). */
  get clusterId(): number {
    return this.cluster;
  }

  /** Every member, voters and learners, by ascending id. */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  /** The member with `id`, if any. */
  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  /** Learners in the table. */
  learnerCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.isLearner) n++;
    return n;
  }

  /**
   * Seeds the table with the bootstrap members when it is empty (first start). Every bootstrap
   * member is given the same list, so every table starts the same. Written at index 0: the
   * first conf change in the log overrides it.
   */
  async bootstrap(clusterId: number, members: readonly Member[]): Promise<void> {
    if (this.members.size > 0 || this.appliedIndex > 0) return;
    this.cluster = clusterId;
    for (const m of members) this.members.set(m.id, m);
    await this.persist();
  }

  /**
   * Applies one committed conf change at raft `index` (skipped when already applied).
   * Returns whether the table changed.
   */
  async applyConfChange(index: number, cc: ConfChange): Promise<boolean> {
    if (index <= this.appliedIndex) return false;
    const meta = decodeMemberContext(cc.context, this.limits);
    const existing = this.members.get(cc.nodeId);
    if (this.cluster === 0 && meta?.clusterId !== undefined) this.cluster = meta.clusterId;
    switch (cc.type) {
      case 'addNode':
        this.members.set(cc.nodeId, merge(cc.nodeId, false, existing, meta));
        break;
      case 'addLearner':
        if (existing !== undefined && !existing.isLearner) break;
        this.members.set(cc.nodeId, merge(cc.nodeId, true, existing, meta));
        break;
      case 'removeNode':
        this.members.delete(cc.nodeId);
        break;
    }
    this.appliedIndex = index;
    await this.persist();
    return true;
  }

  /** The table's image, for the store's snapshot. */
  image(): MemberImage {
    return { index: this.appliedIndex, clusterId: this.cluster, members: this.list() };
  }

  /**
   * Records a member's own attributes (name, client URLs, and peer URLs when given) published after
   * it started, as etcd's publish; the learner flag stays as the conf changes set it.
   */
  async setAttributes(
    index: number,
    attrs: { id: number; name: string; clientUrls: readonly string[]; peerUrls?: readonly string[] },
  ): Promise<void> {
    if (index <= this.appliedIndex) return;
    const m = this.members.get(attrs.id);
    this.appliedIndex = index;
    if (m !== undefined) {
      this.members.set(attrs.id, {
        ...m,
        name: attrs.name,
        clientUrls: [...attrs.clientUrls],
        // No peer URLs (absent or an empty list) keeps the ones the conf change recorded.
        ...(attrs.peerUrls === undefined || attrs.peerUrls.length === 0
          ? {}
          : { peerUrls: [...attrs.peerUrls] }),
      });
    }
    await this.persist();
  }

  /** Replaces the table with a snapshot's image (validated by the caller) and persists it. */
  async restore(image: MemberImage): Promise<void> {
    this.replace(image);
    await this.persist();
  }

  private replace(image: MemberImage): void {
    this.members.clear();
    this.cluster = image.clusterId;
    for (const m of image.members) this.members.set(m.id, m);
    this.appliedIndex = image.index;
  }

  private persist(): Promise<void> {
    const value = encode(this.image());
    return this.storage.batch([{ type: 'put', key: TABLE_KEY, value }], { sync: true });
  }
}

function merge(
  id: number,
  isLearner: boolean,
  existing: Member | undefined,
  meta: MemberMeta | undefined,
): Member {
  const base: MemberMeta = meta ?? existing ?? { name: '', peerUrls: [], clientUrls: [] };
  return {
    id,
    name: base.name,
    peerUrls: [...base.peerUrls],
    clientUrls: [...base.clientUrls],
    isLearner,
  };
}
