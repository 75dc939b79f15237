import type { Clock, Rng, Storage } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { Cell, RingInfo, RingNode, Token, TokenRange, Version } from '../types.js';

/**
 * What the cluster layer uses of the storage engine, the ring and the hybrid clock (built in
 * `src/kv/engine`, `src/kv/ring` and `src/kv/hlc.ts`). The cluster codes against these narrow
 * interfaces, and `engines.ts` binds them to the real implementations: the coordinator, the
 * replica handlers and the repair loops stay testable in isolation, and one file names every
 * dependency on the engine.
 */

/** The hybrid logical clock (`HybridClock`). */
export interface HlcPort {
  /** A new version, strictly greater than every version this clock made or observed. */
  now(): Version;
  /** Advances past a peer's reading; throws KvError CLOCK_SKEW (without advancing) when it is too far ahead. */
  observe(remote: Version): void;
}

/** The ring (`Ring`). */
export interface RingPort {
  readonly rf: number;
  info(): RingInfo;
  replicas(t: Token): readonly string[];
  pending(t: Token): readonly string[];
  ranges(): readonly TokenRange[];
  rangesOf(name: string): readonly TokenRange[];
  futureRangesOf(name: string): readonly TokenRange[];
}

/** An opaque scan position of the replica store. */
export type ScanPosition = Uint8Array;

/** One stored entry as a scan returns it. */
export interface ScanEntry {
  readonly key: Uint8Array;
  readonly token: Token;
  readonly cell: Cell;
}

/** A Merkle tree of a token range (`MerkleTree`). */
export interface MerklePort {
  readonly range: TokenRange;
  readonly depth: number;
  diff(other: MerklePort): TokenRange[];
  encode(): Uint8Array;
}

/** A replica's storage (`ReplicaStore`). */
export interface ReplicaPort {
  get(key: Uint8Array): Promise<Cell | undefined>;
  apply(writes: readonly { key: Uint8Array; cell: Cell }[]): Promise<Cell[]>;
  scan(
    range: TokenRange,
    options: { after?: ScanPosition; limit: number },
  ): Promise<{ entries: ScanEntry[]; next?: ScanPosition }>;
  purge(range?: TokenRange): Promise<number>;
  merkle(range: TokenRange, depth: number): Promise<MerklePort>;
  approximateCount(): number;
  close(): Promise<void>;
}

/** One stored hint. */
export interface StoredHint {
  readonly id: Uint8Array;
  readonly key: Uint8Array;
  readonly cell: Cell;
}

/** The hint store (`HintStore`). */
export interface HintPort {
  add(target: string, key: Uint8Array, cell: Cell): Promise<boolean>;
  list(target: string, limit: number): Promise<StoredHint[]>;
  remove(target: string, ids: readonly Uint8Array[]): Promise<void>;
  dropTarget(target: string): Promise<number>;
  targets(): string[];
  bytesFor(target: string): number;
}

/** The engine's constructors and pure functions, as the cluster needs them. */
export interface KvEngines {
  nodeTag(name: string): number;
  hybridClock(options: { clock: Clock; node: number; maxOffsetMs: number }): HlcPort;
  tokenOf(key: Uint8Array): Token;
  inTokenRange(t: Token, r: TokenRange): boolean;
  buildRing(nodes: readonly RingNode[], rf: number): RingPort;
  randomTokens(rng: Rng, count: number, taken: ReadonlySet<Token>): Token[];
  encodeRingAdvert(node: Omit<RingNode, 'name'>): Map<string, Uint8Array>;
  decodeRingAdvert(values: (key: string) => StateValue | undefined): Omit<RingNode, 'name'> | undefined;
  /** The membership state key prefix of ring adverts (`kv.`). */
  readonly ringStatePrefix: string;
  openReplicaStore(options: {
    storage: Storage;
    clock: Clock;
    gcGraceMs: number;
    sync: boolean;
  }): Promise<ReplicaPort>;
  openHintStore(options: {
    storage: Storage;
    clock: Clock;
    windowMs: number;
    maxBytesPerTarget: number;
    sync: boolean;
  }): Promise<HintPort>;
  decodeMerkle(bytes: Uint8Array): MerklePort;
  isLive(cell: Cell, now: number): boolean;
  mergeCells(a: Cell | undefined, b: Cell): Cell;
  /** The node's stored tokens and ring status, or undefined on a first start. */
  loadNodeMeta(storage: Storage): Promise<NodeMeta | undefined>;
  saveNodeMeta(storage: Storage, meta: NodeMeta): Promise<void>;
  /** The other ring nodes as this node last knew them (empty when none or unreadable). */
  loadRingMemory(storage: Storage): Promise<RingNode[]>;
  saveRingMemory(storage: Storage, nodes: readonly RingNode[]): Promise<void>;
}

/** What a node persists about itself: its tokens, and whether it finished joining. */
export interface NodeMeta {
  readonly tokens: readonly Token[];
  /** `joining` until the node has streamed its ranges; `left` once decommissioned. */
  readonly status: 'joining' | 'normal' | 'left';
}
