import { CairnError, type Rng } from '../../core/index.js';
import type { RingInfo, RingNode, RingNodeStatus, Token, TokenRange } from '../types.js';
import { isToken } from './partitioner.js';

/**
 * The token ring: which nodes replicate which keys.
 *
 * Placement is Cassandra's SimpleStrategy over virtual nodes: each node owns several tokens; the
 * natural replicas of token `t` are the first `rf` distinct nodes met walking clockwise from the
 * first ring token >= t (wrapping). Nodes that are joining do not serve yet and nodes that are
 * leaving still do, so the *current* ring counts `normal` and `leaving` nodes and the *future* ring
 * (after every pending change completes) counts `normal` and `joining` ones. A node's pending
 * ranges are what the future ring gives it beyond the current one: writes go there too, so that a
 * joining node has every write made while it streamed (TokenMetadata's pending ranges).
 */

/** Bounds on what membership may hand the ring (peers are untrusted). */
export const RING_LIMITS: RingLimits = Object.freeze({
  /** Tokens one node may claim: Cassandra's `num_tokens` tops out at 256; more only slows lookups. */
  maxTokensPerNode: 256,
  /** Nodes on one ring: 1,024 x 256 tokens keeps the ring's arrays and lookups small. */
  maxNodes: 1024,
  /** Largest replication factor: beyond 16 copies a write's fan-out costs more than it protects. */
  maxReplicationFactor: 16,
  /** Bytes of a node name, as membership bounds its keys. */
  maxNameBytes: 256,
});

/** The ring's bounds; see {@link RING_LIMITS} for each one's reason. */
export type RingLimits = {
  readonly maxTokensPerNode: number;
  readonly maxNodes: number;
  readonly maxReplicationFactor: number;
  readonly maxNameBytes: number;
};

const STATUSES: ReadonlySet<string> = new Set<RingNodeStatus>(['joining', 'normal', 'leaving']);

/** One walk order over the tokens of the nodes a predicate admits. */
class TokenWalk {
  /** Sorted ring tokens of the admitted nodes. */
  private readonly tokens: Token[] = [];
  /** owners[i] is the index in `names` of the node owning tokens[i]. */
  private readonly owners: number[] = [];
  private readonly cache = new Map<number, readonly string[]>();
  private readonly distinctNodes: number;

  constructor(
    sortedTokens: readonly Token[],
    sortedOwners: readonly number[],
    private readonly names: readonly string[],
    admit: (owner: number) => boolean,
    private readonly rf: number,
  ) {
    const seen = new Set<number>();
    for (let i = 0; i < sortedTokens.length; i++) {
      const owner = sortedOwners[i]!;
      if (!admit(owner)) continue;
      this.tokens.push(sortedTokens[i]!);
      this.owners.push(owner);
      seen.add(owner);
    }
    this.distinctNodes = seen.size;
  }

  /** The replicas of `t`: rf distinct nodes clockwise from the first token >= t. */
  replicas(t: Token): readonly string[] {
    if (this.tokens.length === 0) return [];
    const start = firstAtOrAfter(this.tokens, t);
    let cached = this.cache.get(start);
    if (cached === undefined) {
      cached = this.walk(start);
      this.cache.set(start, cached);
    }
    return cached;
  }

  private walk(start: number): readonly string[] {
    const want = Math.min(this.rf, this.distinctNodes);
    const picked: number[] = [];
    const n = this.tokens.length;
    for (let step = 0; step < n && picked.length < want; step++) {
      const owner = this.owners[(start + step) % n]!;
      if (!picked.includes(owner)) picked.push(owner);
    }
    return Object.freeze(picked.map((o) => this.names[o]!));
  }
}

/** Index of the first element >= t, wrapping to 0 when every element is smaller. */
function firstAtOrAfter(sorted: readonly Token[], t: Token): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo === sorted.length ? 0 : lo;
}

function invalid(message: string): never {
  throw new CairnError('INVALID_ARGUMENT', message);
}

function validateNodes(nodes: readonly RingNode[], rf: number, limits: RingLimits): void {
  if (!Number.isInteger(rf) || rf < 1 || rf > limits.maxReplicationFactor) {
    invalid(`replication factor must be an integer in 1..${limits.maxReplicationFactor}, got ${rf}`);
  }
  if (nodes.length > limits.maxNodes)
    invalid(`ring of ${nodes.length} nodes is over maxNodes=${limits.maxNodes}`);
  const names = new Set<string>();
  for (const node of nodes) {
    if (typeof node.name !== 'string' || node.name.length === 0)
      invalid('ring node name must be a non-empty string');
    if (Buffer.byteLength(node.name) > limits.maxNameBytes) {
      invalid(
        `ring node name of ${Buffer.byteLength(node.name)} bytes is over maxNameBytes=${limits.maxNameBytes}`,
      );
    }
    if (names.has(node.name)) invalid(`ring node ${node.name} appears twice`);
    names.add(node.name);
    if (!STATUSES.has(node.status))
      invalid(`ring node ${node.name} has unknown status ${String(node.status)}`);
    if (!Array.isArray(node.tokens)) invalid(`ring node ${node.name} has no token list`);
    if (node.tokens.length > limits.maxTokensPerNode) {
      invalid(
        `ring node ${node.name} claims ${node.tokens.length} tokens, over maxTokensPerNode=${limits.maxTokensPerNode}`,
      );
    }
    for (const t of node.tokens)
      if (!isToken(t)) invalid(`ring node ${node.name} has a token outside [0, 2^64)`);
  }
}

/**
 * An immutable token ring. Build a new one whenever membership's view changes.
 *
 * Contract: `replicas(t)` holds min(rf, admitted nodes) distinct names, the same on every node
 * that built the ring from the same nodes (whatever their order). When two nodes claim a token,
 * the one whose name sorts first keeps it; the other keeps its remaining tokens. `ranges()`
 * partitions the ring: every token lies in exactly one range, and within a range the replicas and
 * pending nodes are the same for every token.
 *
 * @example
 * ```ts
 * const ring = Ring.build([{ name: 'a', tokens: [10n, 500n], status: 'normal' }, ...], 3);
 * ring.replicas(tokenOf(key)); // ['a', 'c', 'b']
 * ```
 */
export class Ring {
  /** Replication factor. */
  readonly rf: number;
  private readonly nodes: readonly RingNode[];
  private readonly allTokens: readonly Token[];
  private readonly allOwners: readonly number[];
  private readonly current: TokenWalk;
  private readonly future: TokenWalk;
  /** True when every node is `normal`: no change pending, so the future ring is the current one. */
  private readonly settled: boolean;
  private rangeList: readonly TokenRange[] | undefined;

  private constructor(rf: number, nodes: readonly RingNode[], tokens: Token[], owners: number[]) {
    this.rf = rf;
    this.nodes = nodes;
    this.allTokens = tokens;
    this.allOwners = owners;
    const names = nodes.map((n) => n.name);
    const status = nodes.map((n) => n.status);
    this.current = new TokenWalk(tokens, owners, names, (o) => status[o] !== 'joining', rf);
    this.future = new TokenWalk(tokens, owners, names, (o) => status[o] !== 'leaving', rf);
    this.settled = status.every((s) => s === 'normal');
  }

  /**
   * A ring of `nodes` with replication factor `rf`.
   *
   * @param limits - overrides of {@link RING_LIMITS}
   * @throws CairnError `INVALID_ARGUMENT` for an rf, node, name, status or token outside the limits
   */
  static build(nodes: readonly RingNode[], rf: number, limits: Partial<RingLimits> = {}): Ring {
    const bounds = { ...RING_LIMITS, ...limits };
    validateNodes(nodes, rf, bounds);
    const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Lower name keeps a contested token: sorted by name, the first claim wins.
    const claimed = new Map<Token, number>();
    sorted.forEach((node, index) => {
      for (const t of node.tokens) if (!claimed.has(t)) claimed.set(t, index);
    });
    const entries = [...claimed.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const kept: Token[][] = sorted.map(() => []);
    for (const [t, owner] of entries) kept[owner]!.push(t);
    const frozen = sorted.map((node, i) =>
      Object.freeze({
        name: node.name,
        tokens: Object.freeze(kept[i]!),
        status: node.status,
        ...(node.resp === undefined ? {} : { resp: node.resp }),
      }),
    );
    return new Ring(
      rf,
      Object.freeze(frozen),
      entries.map((e) => e[0]),
      entries.map((e) => e[1]),
    );
  }

  /** The ring as built: nodes sorted by name, each with the tokens it kept, in token order. */
  info(): RingInfo {
    return { rf: this.rf, nodes: this.nodes };
  }

  /** The node named `name`, or undefined. */
  node(name: string): RingNode | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /**
   * Natural replicas of a token: the first rf distinct nodes with status normal or leaving,
   * clockwise from the first ring token >= t (wrapping). Fewer when the ring has fewer nodes.
   * The first name is the primary replica.
   */
  replicas(t: Token): readonly string[] {
    return this.current.replicas(t);
  }

  /**
   * Nodes that replicate t once pending joins (joining -> normal) and leaves (leaving -> gone)
   * complete, minus replicas(t): writes also go to them (never counted toward a level).
   */
  pending(t: Token): readonly string[] {
    // Every write asks: with no node joining or leaving, nothing is pending (no token lookup).
    if (this.settled) return EMPTY;
    const future = this.future.replicas(t);
    if (future.length === 0) return future;
    const now = this.current.replicas(t);
    const extra = future.filter((n) => !now.includes(n));
    return extra.length === 0 ? EMPTY : extra;
  }

  /** The replicas of `t` once every pending change completes. */
  futureReplicas(t: Token): readonly string[] {
    return this.future.replicas(t);
  }

  /**
   * Every ring range (prev token, token], in token order, over the tokens of every node (joining
   * and leaving ones too, so that both the current and the future replicas are constant within a
   * range). The first range wraps: (last token, first token]. One token gives the whole ring
   * (t, t]; an empty ring gives no range.
   */
  ranges(): readonly TokenRange[] {
    if (this.rangeList === undefined) {
      const ts = this.allTokens;
      this.rangeList = Object.freeze(
        ts.map((end, i) => Object.freeze({ start: ts[i === 0 ? ts.length - 1 : i - 1]!, end })),
      );
    }
    return this.rangeList;
  }

  /** The ranges `name` replicates now: the members of {@link ranges} whose replicas include it. */
  rangesOf(name: string): readonly TokenRange[] {
    return this.ranges().filter((r) => this.current.replicas(r.end).includes(name));
  }

  /** The ranges `name` will replicate after pending changes: members of {@link ranges}. */
  futureRangesOf(name: string): readonly TokenRange[] {
    return this.ranges().filter((r) => this.future.replicas(r.end).includes(name));
  }

  /** The owner of each ring token, in token order (for tests and tools). */
  tokenOwners(): readonly { token: Token; name: string }[] {
    return this.allTokens.map((token, i) => ({ token, name: this.nodes[this.allOwners[i]!]!.name }));
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * `count` random tokens, distinct from each other and from `taken` (a new node's virtual nodes).
 *
 * @throws CairnError `INVALID_ARGUMENT` when count is not an integer in 0..maxTokensPerNode
 */
export function randomTokens(rng: Rng, count: number, taken: ReadonlySet<Token>): Token[] {
  if (!Number.isInteger(count) || count < 0 || count > RING_LIMITS.maxTokensPerNode) {
    invalid(`token count must be an integer in 0..${RING_LIMITS.maxTokensPerNode}, got ${count}`);
  }
  const out = new Set<Token>();
  // 2^64 tokens against at most a few hundred thousand taken: a collision is rarer than a cosmic
  // ray, and the loop still ends because each draw that collides is simply drawn again.
  while (out.size < count) {
    const t = (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
    if (!taken.has(t)) out.add(t);
  }
  return [...out];
}
