import { CairnError, checkLimit, encode, Rng } from '../../core/index.js';
import type { NodeId, NodeIdentity, SignatureScheme, SignedRecord } from '../../security/index.js';
import { ed25519Scheme, signRecord } from '../../security/index.js';
import { compactRecord } from '../intern.js';
import { type StateConfig, SYN_ACK_BASE_BYTES, stateConfig } from './config.js';
import { type DeltaBounds, digestEntryOf, type SizedDelta, writeDelta } from './delta.js';
import { DigestPlanner } from './digest-planner.js';
import { newStateStats, type StateEvent, type StateStats } from './events.js';
import { DEFAULT_LIMITS, type StateLimits, stateLimits } from './limits.js';
import { StateMerge } from './merge.js';
import type { Ack, Digest, DigestEntry, NodeDelta, StateMessage, Syn, SynAck } from './messages.js';
import type { NodeState, StateEntry } from './node-state.js';
import {
  encodeHeartbeatPayload,
  encodeKvPayload,
  type PayloadBounds,
  payloadBounds,
  type StateValue,
  valueBytes,
} from './records.js';
import { StateStore } from './store.js';

/** Options of {@link ScuttlebuttState}. */
export interface ScuttlebuttStateOptions {
  /** This node's identity; its records are signed with it. */
  readonly identity: NodeIdentity;
  /** This start's generation: >= 1 and greater than any earlier start's (brick DESIGN.md). */
  readonly generation: number;
  /** Overrides of {@link DEFAULT_STATE_CONFIG}; validated. */
  readonly config?: Partial<StateConfig>;
  /** Overrides of the hard limits. */
  readonly limits?: Partial<StateLimits>;
  /** Signature scheme; default `ed25519Scheme`. `simulatedScheme` only in large simulations. */
  readonly scheme?: SignatureScheme;
  /** Randomness for tie-breaking between equally stale nodes; default seeded by the node id. */
  readonly rng?: Rng;
  /**
   * Sign heartbeat 1 at once (default true), so that the node always has a record of its
   * generation. False for a node that never beats (its driver learns generations elsewhere, e.g.
   * from SWIM's alive records): then it holds records only of the keys it writes.
   */
  readonly initialHeartbeat?: boolean;
  /**
   * Whether state of `node` may be taken (default: every node). The membership driver passes
   * "SWIM lists it alive or suspect", so records of identities no member vouches for (minted by
   * anyone, or of a node already reaped) are refused before they are verified or kept.
   */
  readonly vouch?: (node: NodeId) => boolean;
}

/** Options of the deltas {@link ScuttlebuttState.handleSyn} and `handleSynAck` write. */
export type DeltaOptions = Pick<DeltaBounds, 'heartbeats'>;

/** The result of handling a message: the reply to send (if any) and the events to publish. */
export interface StateStep<R extends StateMessage = StateMessage> {
  readonly reply: R | undefined;
  readonly events: StateEvent[];
}

const SYN_BASE_BYTES = encode({ type: 'Syn', partial: true, digest: [] }).length;
const ACK_BASE_BYTES = encode({ type: 'Ack', delta: [] }).length;

/**
 * The pure Scuttlebutt state core: this node's versioned key/value map and what it knows of every
 * other node's, kept in sync by `Syn -> SynAck -> Ack` exchanges (DESIGN.md).
 *
 * No IO, no clock, no randomness of its own: the driver passes `nowMs` where time matters
 * (tombstones) and sends the replies and publishes the events each call returns, in order.
 *
 * Contract: every local write is signed at once and returned as a `localRecord` event; every
 * remote record, from a delta or from {@link applyRecord}, is checked (shape, payload, signature
 * by the node it describes, generation, version) before it changes anything, and rejections are
 * counted in {@link stats} by reason. Local calls with bad arguments throw `CairnError`
 * (`INVALID_ARGUMENT`, `LIMIT_EXCEEDED`); remote input never throws.
 *
 * @example
 * ```ts
 * const a = new ScuttlebuttState({ identity: idA, generation: 1 });
 * const b = new ScuttlebuttState({ identity: idB, generation: 1 });
 * a.set('role', 'kv');
 * const synAck = b.handleSyn(a.createSyn(), now).reply!;
 * const ack = a.handleSynAck(synAck, now).reply!;
 * b.handleAck(ack, now);
 * b.get(idA.nodeId, 'role'); // 'kv'
 * ```
 */
export class ScuttlebuttState {
  /** The validated config. */
  readonly config: StateConfig;
  /** The hard limits in force. */
  readonly limits: StateLimits;
  /** Counters; see {@link StateStats}. */
  readonly stats: StateStats = newStateStats();
  readonly #identity: NodeIdentity;
  readonly #scheme: SignatureScheme;
  readonly #rng: Rng;
  readonly #bounds: PayloadBounds;
  /** Every record held, with the byte total and the tombstones (`store.ts`). */
  readonly #store = new StateStore();
  readonly #local: NodeState;
  /** What the digests name (`digest-planner.ts`). */
  readonly #planner: DigestPlanner;
  /** The merge rule for remote records (`merge.ts`). */
  readonly #merge: StateMerge;

  constructor(options: ScuttlebuttStateOptions) {
    this.limits = options.limits === undefined ? DEFAULT_LIMITS : stateLimits(options.limits);
    this.config = stateConfig(options.config, this.limits);
    if (!Number.isSafeInteger(options.generation) || options.generation < 1) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `generation must be a safe integer >= 1, got ${options.generation}`,
      );
    }
    this.#identity = options.identity;
    this.#scheme = options.scheme ?? ed25519Scheme;
    this.#rng = options.rng ?? Rng.fromSeed(`scuttlebutt/${options.identity.nodeId}`);
    this.#bounds = payloadBounds(this.limits, this.config);
    this.#local = this.#store.addNode(options.identity.nodeId, options.generation);
    this.#planner = new DigestPlanner(this.#store, this.#local, this.limits);
    this.#merge = new StateMerge(this.#store, {
      self: this.#local.node,
      config: this.config,
      limits: this.limits,
      bounds: this.#bounds,
      scheme: this.#scheme,
      vouch: options.vouch,
      stats: this.stats,
    });
    // Heartbeat 1 at once: a node always has a signed record of its generation, so peers drop
    // an older generation's state as soon as anything of the new one reaches them.
    if (options.initialHeartbeat ?? true) this.heartbeat();
  }

  /** This node's id. */
  get self(): NodeId {
    return this.#local.node;
  }

  /** This node's generation. */
  get generation(): number {
    return this.#local.generation;
  }

  /** Bytes of every record kept here (payloads and signatures, all nodes, this one included). */
  get stateBytes(): number {
    return this.#store.bytes;
  }

  /** {@link stateBytes} counted from scratch over every record held: a check, O(records). */
  recountBytes(): number {
    return this.#store.recountBytes();
  }

  // ---- local API -------------------------------------------------------------------------

  /**
   * Sets `key` to `value` in this node's state, at the next version. Allowed before any peer is
   * known (initial state).
   *
   * @returns an `update` event and the `localRecord` to push eagerly
   * @throws CairnError `INVALID_ARGUMENT` for an empty key or a value that is not a string or
   *   bytes; `LIMIT_EXCEEDED` over `maxKeyBytes`, `maxValueBytes` or `maxKeysPerNode`
   */
  set(key: string, value: StateValue): StateEvent[] {
    this.#checkKey(key);
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `a state value must be a string or a Uint8Array, got ${typeof value}`,
      );
    }
    checkLimit('maxValueBytes', valueBytes(value), this.#bounds.maxValueBytes, `value of "${key}"`);
    return this.#writeLocal(key, value, 0);
  }

  /**
   * Deletes `key` from this node's state: writes a tombstone at the next version, kept for
   * `tombstoneGraceMs` from `nowMs`. A key that is absent (or already deleted) is left alone.
   *
   * @returns the events (empty when nothing was deleted)
   */
  delete(key: string, nowMs: number): StateEvent[] {
    this.#checkKey(key);
    const e = this.#local.entries.get(key);
    if (e === undefined || e.value === null) return [];
    return this.#writeLocal(key, null, nowMs);
  }

  /**
   * Bumps this node's heartbeat and signs it (the phi detector's input on other nodes).
   *
   * @returns a `heartbeat` event and the `localRecord`
   */
  heartbeat(): StateEvent[] {
    const s = this.#local;
    // Compact: an encoding is a view into the codec's shared 64+ KiB buffer, which it would pin.
    const record = compactRecord(
      signRecord(this.#identity, s.heartbeat + 1, encodeHeartbeatPayload(s.generation), this.#scheme),
    );
    this.#store.tracked(s, () => s.setHeartbeat(record));
    return [
      { type: 'heartbeat', node: s.node, heartbeat: s.heartbeat, record },
      { type: 'localRecord', record },
    ];
  }

  /** The value of `key` in `node`'s state as known here; `undefined` when absent or deleted. */
  get(node: NodeId, key: string): StateValue | undefined {
    const v = this.#store.nodes.get(node)?.entries.get(key)?.value;
    return v === null ? undefined : v;
  }

  /** The entry of `key` (tombstones included), with its version and record. */
  entry(node: NodeId, key: string): StateEntry | undefined {
    return this.#store.nodes.get(node)?.entries.get(key);
  }

  /** The live keys and values of `node`, in no particular order. */
  *entries(node: NodeId): IterableIterator<[string, StateValue]> {
    const s = this.#store.nodes.get(node);
    if (s === undefined) return;
    for (const e of s.entries.values()) if (e.value !== null) yield [e.key, e.value];
  }

  /**
   * The live values of `node` as a fresh record (what a member's `metadata` shows), without the
   * iterator and pairs of {@link entries}: it is built for every membership event.
   */
  valuesOf(node: NodeId): Record<string, StateValue> {
    const out: Record<string, StateValue> = {};
    const s = this.#store.nodes.get(node);
    if (s === undefined) return out;
    for (const e of s.entries.values()) if (e.value !== null) out[e.key] = e.value;
    return out;
  }

  /** Every node whose state is held here, this node included. */
  nodes(): NodeId[] {
    return [...this.#store.nodes.keys()];
  }

  /** The digest entry of `node` (generation, watermark, gc version, heartbeat), if known. */
  nodeInfo(node: NodeId): (DigestEntry & { readonly keys: number }) | undefined {
    const s = this.#store.nodes.get(node);
    return s === undefined ? undefined : { ...digestEntryOf(s), keys: s.entries.size };
  }

  /**
   * Forgets everything about `node` (the driver reaps dead and left nodes). The local node cannot
   * be forgotten. Emits no events: the driver reports the node's departure itself.
   */
  forget(node: NodeId): boolean {
    if (node === this.self) return false;
    this.#planner.forget(node);
    return this.#store.remove(node);
  }

  /**
   * Hints that `node` exists at `generation` (from SWIM's verified alive record): the next digests
   * ask for its state if it is unknown or older here. A known node of an older generation is reset
   * at once (its old keys dropped, as `update` events with no value), so a restarted node is never
   * listed with its new generation and its old state.
   */
  noteNode(node: NodeId, generation: number): StateEvent[] {
    const s = this.#store.nodes.get(node);
    if (node === this.self || (s !== undefined && s.generation >= generation)) return [];
    const events: StateEvent[] = [];
    if (s !== undefined) this.#merge.generationReset(node, generation, events);
    this.#planner.want({ node, generation, maxVersion: 0, gcVersion: 0, heartbeat: 0 });
    return events;
  }

  // ---- protocol --------------------------------------------------------------------------

  /**
   * This node's digest within `budgetBytes` encoded bytes: itself, then nodes a peer was seen
   * ahead on, then the others round-robin; `partial` when not all fit.
   */
  digest(budgetBytes: number): Digest {
    return this.#planner.digest(budgetBytes);
  }

  /**
   * A Syn to start an exchange with a random peer (the driver picks the peer).
   *
   * @param mtuBytes - encoded size bound (default `config.mtuBytes`)
   */
  createSyn(mtuBytes: number = this.config.mtuBytes): Syn {
    const cluster = this.config.cluster;
    const base = SYN_BASE_BYTES - 1 + (cluster === undefined ? 0 : encode({ cluster }).length - 1);
    const digest = this.digest(mtuBytes - base);
    return cluster === undefined ? { type: 'Syn', digest } : { type: 'Syn', cluster, digest };
  }

  /**
   * Answers a Syn with a SynAck: what the peer lacks (bounded by `mtuBytes`) and this node's
   * digest in the remaining room. A Syn from another cluster gets no reply (counted).
   */
  handleSyn(
    syn: Syn,
    _nowMs: number,
    mtuBytes: number = this.config.mtuBytes,
    options: DeltaOptions = {},
  ): StateStep<SynAck> {
    if (this.config.cluster !== undefined && syn.cluster !== this.config.cluster) {
      this.stats.badCluster++;
      return { reply: undefined, events: [] };
    }
    this.#planner.noteDigest(syn.digest);
    const room = mtuBytes - (SYN_ACK_BASE_BYTES - 2);
    // The delta gets the room the full digest would not need, but at least half; if a big record
    // then fits nowhere, it gets all of it (progress over a digest this round).
    const digestEstimate = 1 + this.#store.nodes.size * 80;
    let sized = this.#delta(syn.digest, room - Math.min(digestEstimate, Math.floor(room / 2)), options);
    if (sized.delta.length === 0 && sized.truncated) sized = this.#delta(syn.digest, room - 1, options);
    const digest = this.digest(room - sized.bytes);
    return { reply: { type: 'SynAck', digest, delta: sized.delta }, events: [] };
  }

  /** Applies a SynAck's delta and answers with an Ack: what the responder lacks. */
  handleSynAck(
    synAck: SynAck,
    nowMs: number,
    mtuBytes: number = this.config.mtuBytes,
    options: DeltaOptions = {},
  ): StateStep<Ack> {
    const events = this.applyDelta(synAck.delta, nowMs);
    this.#planner.noteDigest(synAck.digest);
    const sized = this.#delta(synAck.digest, mtuBytes - (ACK_BASE_BYTES - 1), options);
    return { reply: { type: 'Ack', delta: sized.delta }, events };
  }

  /** Applies an Ack's delta. */
  handleAck(ack: Ack, nowMs: number): StateStep<never> {
    return { reply: undefined, events: this.applyDelta(ack.delta, nowMs) };
  }

  /** Dispatches any state message to the handler of its type. */
  handleMessage(message: StateMessage, nowMs: number, mtuBytes: number = this.config.mtuBytes): StateStep {
    switch (message.type) {
      case 'Syn':
        return this.handleSyn(message, nowMs, mtuBytes);
      case 'SynAck':
        return this.handleSynAck(message, nowMs, mtuBytes);
      case 'Ack':
        return this.handleAck(message, nowMs);
    }
  }

  /**
   * The delta for a peer whose digest is `peerDigest`, whose encoding (as the `delta` field of a
   * message) takes at most `mtuBytes`.
   */
  computeDelta(peerDigest: Digest, mtuBytes: number): NodeDelta[] {
    return this.#delta(peerDigest, mtuBytes).delta;
  }

  /** Applies a delta (from a SynAck, an Ack or a stream exchange); returns the events. */
  applyDelta(delta: readonly NodeDelta[], nowMs: number): StateEvent[] {
    return this.#merge.applyDelta(delta, nowMs);
  }

  /**
   * Applies one signed record that arrived outside a delta (SWIM's piggyback, eager push): same
   * checks and merge rule as a delta. It raises the watermark only over versions held
   * contiguously, so anti-entropy still fetches anything it skipped.
   */
  applyRecord(record: SignedRecord, nowMs: number): StateEvent[] {
    return this.#merge.applyRecord(record, nowMs);
  }

  /**
   * Collects tombstones older than `tombstoneGraceMs` (and covered by the node's watermark),
   * raising each node's gcVersion. Call it every gossip interval or so.
   *
   * @returns how many tombstones were collected
   */
  collectGarbage(nowMs: number): number {
    const collected = this.#store.collectGarbage(nowMs, this.config.tombstoneGraceMs);
    this.stats.tombstonesCollected += collected;
    return collected;
  }

  // ---- internals -------------------------------------------------------------------------

  #checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `a state key must be a non-empty string, got ${JSON.stringify(key)}`,
      );
    }
    checkLimit(
      'maxKeyBytes',
      Buffer.byteLength(key, 'utf8'),
      this.#bounds.maxKeyBytes,
      `key "${key.slice(0, 64)}"`,
    );
  }

  #writeLocal(key: string, value: StateValue | null, nowMs: number): StateEvent[] {
    const s = this.#local;
    if (!s.entries.has(key))
      checkLimit('maxKeysPerNode', s.entries.size + 1, this.config.maxKeysPerNode, 'keys of this node');
    const version = s.maxVersion + 1;
    const record = compactRecord(
      signRecord(this.#identity, version, encodeKvPayload(s.generation, key, value), this.#scheme),
    );
    this.#store.put(s, key, value, record, nowMs);
    s.maxVersion = version;
    return [
      { type: 'update', node: s.node, key, value: value ?? undefined, version, record },
      { type: 'localRecord', record },
    ];
  }

  #delta(peer: Digest, budgetBytes: number, options: DeltaOptions = {}): SizedDelta {
    return writeDelta(this.#store.nodes, peer, budgetBytes, this.#rng, {
      maxRecords: this.limits.maxDeltaRecords,
      maxSections: this.limits.maxDigestEntries,
      heartbeats: options.heartbeats ?? true,
    });
  }
}
