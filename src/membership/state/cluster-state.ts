import { assert, bytesEqual, CairnError, checkLimit, encode, Rng } from '../../core/index.js';
import type { NodeId, NodeIdentity, SignatureScheme, SignedRecord } from '../../security/index.js';
import { ed25519Scheme, SIGNATURE_BYTES, signRecord, verifyRecord } from '../../security/index.js';
import { compactRecord, internId, verifiedRecord } from '../intern.js';
import { type StateConfig, SYN_ACK_BASE_BYTES, stateConfig } from './config.js';
import { type DeltaBounds, digestEntryOf, fillDigest, type SizedDelta, writeDelta } from './delta.js';
import { newStateStats, type StateEvent, type StateStats } from './events.js';
import { DEFAULT_LIMITS, type StateLimits, stateLimits } from './limits.js';
import type {
  Ack,
  Digest,
  DigestEntry,
  NodeDelta,
  StateMessage,
  Syn,
  SynAck,
  WireRecord,
} from './messages.js';
import { NodeState, recordBytes, type StateEntry } from './node-state.js';
import {
  decodeStatePayload,
  encodeHeartbeatPayload,
  encodeKvPayload,
  type PayloadBounds,
  payloadBounds,
  type RejectReason,
  type StatePayload,
  type StateValue,
  valueBytes,
} from './records.js';

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

interface Tombstone {
  readonly node: NodeId;
  readonly key: string;
  readonly version: number;
  readonly sinceMs: number;
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
  readonly #vouch: ((node: NodeId) => boolean) | undefined;
  /** Bytes of every record kept, all nodes (`recordBytes`), against `limits.maxStateBytes`. */
  #bytes = 0;
  readonly #nodes = new Map<NodeId, NodeState>();
  readonly #local: NodeState;
  /** Nodes a peer's digest showed ahead of us, with what it showed: asked for first. */
  readonly #wanted = new Map<NodeId, DigestEntry>();
  /** Round-robin order of known nodes for partial digests. */
  #order: NodeId[] = [];
  #cursor = 0;
  /** Tombstones in the order they were learned, for collection. */
  #tombstones: Tombstone[] = [];
  #tombstoneHead = 0;

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
    this.#vouch = options.vouch;
    this.#local = this.#addNode(options.identity.nodeId, options.generation);
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
    return this.#bytes;
  }

  /** {@link stateBytes} counted from scratch over every record held: a check, O(records). */
  recountBytes(): number {
    let n = 0;
    for (const s of this.#nodes.values()) n += s.recountBytes();
    return n;
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
    this.#tracked(s, () => s.setHeartbeat(record));
    return [
      { type: 'heartbeat', node: s.node, heartbeat: s.heartbeat, record },
      { type: 'localRecord', record },
    ];
  }

  /** The value of `key` in `node`'s state as known here; `undefined` when absent or deleted. */
  get(node: NodeId, key: string): StateValue | undefined {
    const v = this.#nodes.get(node)?.entries.get(key)?.value;
    return v === null ? undefined : v;
  }

  /** The entry of `key` (tombstones included), with its version and record. */
  entry(node: NodeId, key: string): StateEntry | undefined {
    return this.#nodes.get(node)?.entries.get(key);
  }

  /** The live keys and values of `node`, in no particular order. */
  *entries(node: NodeId): IterableIterator<[string, StateValue]> {
    const s = this.#nodes.get(node);
    if (s === undefined) return;
    for (const e of s.entries.values()) if (e.value !== null) yield [e.key, e.value];
  }

  /**
   * The live values of `node` as a fresh record (what a member's `metadata` shows), without the
   * iterator and pairs of {@link entries}: it is built for every membership event.
   */
  valuesOf(node: NodeId): Record<string, StateValue> {
    const out: Record<string, StateValue> = {};
    const s = this.#nodes.get(node);
    if (s === undefined) return out;
    for (const e of s.entries.values()) if (e.value !== null) out[e.key] = e.value;
    return out;
  }

  /** Every node whose state is held here, this node included. */
  nodes(): NodeId[] {
    return [...this.#nodes.keys()];
  }

  /** The digest entry of `node` (generation, watermark, gc version, heartbeat), if known. */
  nodeInfo(node: NodeId): (DigestEntry & { readonly keys: number }) | undefined {
    const s = this.#nodes.get(node);
    return s === undefined ? undefined : { ...digestEntryOf(s), keys: s.entries.size };
  }

  /**
   * Forgets everything about `node` (the driver reaps dead and left nodes). The local node cannot
   * be forgotten. Emits no events: the driver reports the node's departure itself.
   */
  forget(node: NodeId): boolean {
    if (node === this.self) return false;
    this.#wanted.delete(node);
    const s = this.#nodes.get(node);
    if (s === undefined) return false;
    this.#bytes -= s.bytes;
    return this.#nodes.delete(node);
  }

  /**
   * Hints that `node` exists at `generation` (from SWIM's verified alive record): the next digests
   * ask for its state if it is unknown or older here. A known node of an older generation is reset
   * at once (its old keys dropped, as `update` events with no value), so a restarted node is never
   * listed with its new generation and its old state.
   */
  noteNode(node: NodeId, generation: number): StateEvent[] {
    const s = this.#nodes.get(node);
    if (node === this.self || (s !== undefined && s.generation >= generation)) return [];
    const events: StateEvent[] = [];
    if (s !== undefined) this.#generationReset(node, generation, events);
    this.#want({ node, generation, maxVersion: 0, gcVersion: 0, heartbeat: 0 });
    return events;
  }

  // ---- protocol --------------------------------------------------------------------------

  /**
   * This node's digest within `budgetBytes` encoded bytes: itself, then nodes a peer was seen
   * ahead on, then the others round-robin; `partial` when not all fit.
   */
  digest(budgetBytes: number): Digest {
    const total = this.#nodes.size;
    return fillDigest(this.#digestOrder(), total, budgetBytes, this.limits.maxDigestEntries);
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
    this.#noteDigest(syn.digest);
    const room = mtuBytes - (SYN_ACK_BASE_BYTES - 2);
    // The delta gets the room the full digest would not need, but at least half; if a big record
    // then fits nowhere, it gets all of it (progress over a digest this round).
    const digestEstimate = 1 + this.#nodes.size * 80;
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
    this.#noteDigest(synAck.digest);
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
    const events: StateEvent[] = [];
    for (const section of delta) this.#applySection(section, nowMs, events);
    return events;
  }

  /**
   * Applies one signed record that arrived outside a delta (SWIM's piggyback, eager push): same
   * checks and merge rule as a delta. It raises the watermark only over versions held
   * contiguously, so anti-entropy still fetches anything it skipped.
   */
  applyRecord(record: SignedRecord, nowMs: number): StateEvent[] {
    const events: StateEvent[] = [];
    if (record.node === this.self) {
      this.stats.ownIgnored++;
      return events;
    }
    const applied = this.#processRecord(record.node, record, nowMs, events);
    const s = this.#nodes.get(record.node);
    if (applied && s !== undefined) this.#settle(s, events);
    return events;
  }

  /**
   * Collects tombstones older than `tombstoneGraceMs` (and covered by the node's watermark),
   * raising each node's gcVersion. Call it every gossip interval or so.
   *
   * @returns how many tombstones were collected
   */
  collectGarbage(nowMs: number): number {
    let collected = 0;
    const grace = this.config.tombstoneGraceMs;
    const requeue: Tombstone[] = [];
    while (this.#tombstoneHead < this.#tombstones.length) {
      const t = this.#tombstones[this.#tombstoneHead]!;
      if (t.sinceMs + grace > nowMs) break;
      this.#tombstoneHead++;
      const s = this.#nodes.get(t.node);
      const e = s?.entries.get(t.key);
      if (s === undefined || e === undefined || e.version !== t.version || e.value !== null) continue;
      if (t.version > s.maxVersion) {
        requeue.push(t);
        continue;
      }
      this.#tracked(s, () => s.remove(t.key));
      s.gcVersion = Math.max(s.gcVersion, t.version);
      collected++;
    }
    if (this.#tombstoneHead > 1024 && this.#tombstoneHead * 2 > this.#tombstones.length) {
      this.#tombstones = this.#tombstones.slice(this.#tombstoneHead);
      this.#tombstoneHead = 0;
    }
    for (const t of requeue) this.#tombstones.push(t);
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
    this.#put(s, key, value, record, nowMs);
    s.maxVersion = version;
    return [
      { type: 'update', node: s.node, key, value: value ?? undefined, version, record },
      { type: 'localRecord', record },
    ];
  }

  #put(s: NodeState, key: string, value: StateValue | null, record: SignedRecord, nowMs: number): void {
    this.#tracked(s, () =>
      s.put({
        key,
        value,
        version: record.version,
        record,
        tombstoneSinceMs: value === null ? nowMs : undefined,
      }),
    );
    if (value === null) this.#tombstones.push({ node: s.node, key, version: record.version, sinceMs: nowMs });
  }

  #addNode(decodedId: NodeId, generation: number): NodeState {
    // One string per node id in the process (ids decoded from packets are fresh copies each).
    const node = internId(decodedId);
    const s = new NodeState(node, generation);
    const old = this.#nodes.get(node);
    if (old === undefined) this.#order.push(node);
    else this.#bytes -= old.bytes;
    this.#nodes.set(node, s);
    return s;
  }

  /** Runs a change of `s` and keeps the total of record bytes in step with it. */
  #tracked<T>(s: NodeState, change: () => T): T {
    const before = s.bytes;
    const result = change();
    this.#bytes += s.bytes - before;
    return result;
  }

  #vouched(node: NodeId): boolean {
    return this.#vouch === undefined || this.#vouch(node);
  }

  #delta(peer: Digest, budgetBytes: number, options: DeltaOptions = {}): SizedDelta {
    return writeDelta(this.#nodes, peer, budgetBytes, this.#rng, {
      maxRecords: this.limits.maxDeltaRecords,
      maxSections: this.limits.maxDigestEntries,
      heartbeats: options.heartbeats ?? true,
    });
  }

  #want(e: DigestEntry): void {
    // The process's copy of the id: one decoded from a digest is a slice of the whole packet.
    const node = internId(e.node);
    if (this.#wanted.size >= this.limits.maxWantedNodes && !this.#wanted.has(node)) {
      this.#wanted.delete(this.#wanted.keys().next().value!);
    }
    this.#wanted.set(node, {
      node,
      generation: e.generation,
      maxVersion: e.maxVersion,
      gcVersion: e.gcVersion,
      heartbeat: e.heartbeat,
    });
  }

  /**
   * Remembers nodes a peer is ahead on, so our next digests ask for them first: nodes we have never
   * heard of, newer generations and key/value writes. A newer heartbeat alone does not count: every
   * node beats every interval, so every peer is always ahead on some heartbeat, and wanting those
   * would put every node in `#wanted` for good (O(n) work per digest). Heartbeats come through the
   * round-robin part of the digest.
   */
  #noteDigest(digest: Digest): void {
    for (const e of digest.entries) {
      if (e.node === this.self || e.generation === 0) continue;
      const s = this.#nodes.get(e.node);
      const ahead =
        s === undefined ||
        e.generation > s.generation ||
        (e.generation === s.generation && e.maxVersion > s.maxVersion);
      if (ahead) this.#want(e);
    }
  }

  *#digestOrder(): Generator<DigestEntry> {
    yield digestEntryOf(this.#local);
    // No copy of the map: deleting the visited entry is safe while iterating, and the consumer
    // usually stops after an MTU's worth.
    for (const [node, target] of this.#wanted) {
      const s = this.#nodes.get(node);
      const caughtUp =
        s !== undefined &&
        (s.generation > target.generation ||
          (s.generation === target.generation && s.maxVersion >= target.maxVersion));
      if (caughtUp) {
        this.#wanted.delete(node);
        continue;
      }
      yield s === undefined
        ? { node, generation: 0, maxVersion: 0, gcVersion: 0, heartbeat: 0 }
        : digestEntryOf(s);
    }
    // Round-robin over the rest, compacting forgotten nodes out of the order as we go.
    if (this.#order.length > this.#nodes.size * 2)
      this.#order = this.#order.filter((n) => this.#nodes.has(n));
    const n = this.#order.length;
    for (let i = 0; i < n; i++) {
      const node = this.#order[this.#cursor % n]!;
      this.#cursor = (this.#cursor + 1) % n;
      const s = this.#nodes.get(node);
      if (s !== undefined && s !== this.#local) yield digestEntryOf(s);
    }
  }

  #reject(reason: RejectReason): false {
    this.stats.rejected[reason]++;
    return false;
  }

  #applySection(section: NodeDelta, nowMs: number, events: StateEvent[]): void {
    const node = section.node;
    if (node === this.self) {
      this.stats.ownIgnored += section.records.length + (section.heartbeat === undefined ? 0 : 1);
      return;
    }
    if (!this.#vouched(node)) {
      this.stats.rejected.unvouched += section.records.length + (section.heartbeat === undefined ? 0 : 1);
      return;
    }
    let s = this.#nodes.get(node);
    const fresh = s === undefined || s.generation < section.generation;
    if (
      s !== undefined &&
      s.generation === section.generation &&
      section.fromVersion === 0 &&
      section.gcVersion > s.gcVersion &&
      section.gcVersion > s.maxVersion
    ) {
      this.#gcReset(s, section.gcVersion, events);
    }
    let trusted = true;
    const records =
      section.heartbeat === undefined ? section.records : [section.heartbeat, ...section.records];
    for (const r of records) {
      const before =
        this.stats.rejected.forged + this.stats.rejected.unsigned + this.stats.rejected.malformed;
      this.#processRecord(node, r, nowMs, events);
      if (
        this.stats.rejected.forged + this.stats.rejected.unsigned + this.stats.rejected.malformed !==
        before
      )
        trusted = false;
    }
    s = this.#nodes.get(node);
    if (s === undefined || s.generation !== section.generation) return;
    if (fresh && section.fromVersion === 0) s.gcVersion = Math.max(s.gcVersion, section.gcVersion);
    // The sender's claim of what its records cover is taken only from a section whose records
    // were all authentic, and only when it starts at or below our watermark (no gap).
    if (trusted && section.fromVersion <= s.maxVersion && section.maxVersion > s.maxVersion) {
      s.maxVersion = section.maxVersion;
    }
    this.#settle(s, events);
  }

  /** Advances the watermark over contiguous versions and drops unconfirmed keys it passed. */
  #settle(s: NodeState, events: StateEvent[]): void {
    s.advance();
    if (s.unconfirmed === undefined) return;
    for (const key of [...s.unconfirmed]) {
      const e = s.entries.get(key);
      if (e === undefined || e.version > s.maxVersion) continue;
      this.#tracked(s, () => s.remove(key));
      if (e.value !== null) {
        events.push({
          type: 'update',
          node: s.node,
          key,
          value: undefined,
          version: e.version,
          record: undefined,
        });
      }
    }
    if (s.unconfirmed.size === 0) s.unconfirmed = undefined;
  }

  #gcReset(s: NodeState, gcVersion: number, events: StateEvent[]): void {
    s.maxVersion = 0;
    s.gcVersion = gcVersion;
    s.unconfirmed = new Set(s.entries.keys());
    this.stats.gcResets++;
    events.push({
      type: 'nodeReset',
      node: s.node,
      reason: 'gc',
      generation: s.generation,
      previousGeneration: s.generation,
    });
  }

  #generationReset(node: NodeId, generation: number, events: StateEvent[]): NodeState {
    const old = this.#nodes.get(node);
    const s = this.#addNode(node, generation);
    if (old !== undefined) {
      this.stats.generationResets++;
      events.push({
        type: 'nodeReset',
        node,
        reason: 'generation',
        generation,
        previousGeneration: old.generation,
      });
      for (const e of old.entries.values()) {
        if (e.value !== null) {
          events.push({
            type: 'update',
            node,
            key: e.key,
            value: undefined,
            version: e.version,
            record: undefined,
          });
        }
      }
    }
    return s;
  }

  /**
   * The merge rule for one record of `node`: checks it, and applies it when it is new. Checks run
   * cheapest first, and the signature is verified only for a record that would be applied, so a
   * record relayed many times costs one verification.
   */
  #processRecord(node: NodeId, r: WireRecord, nowMs: number, events: StateEvent[]): boolean {
    if (!(r.signature instanceof Uint8Array) || r.signature.length !== SIGNATURE_BYTES)
      return this.#reject('unsigned');
    if (!this.#vouched(node)) return this.#reject('unvouched');
    const p = decodeStatePayload(r.payload, this.#bounds);
    if (p === undefined) return this.#reject('malformed');
    const s = this.#nodes.get(node);
    if (s !== undefined && p.generation < s.generation) return this.#reject('stale');
    if (s !== undefined && p.generation === s.generation) {
      if (p.type === 'heartbeat') {
        if (r.version <= s.heartbeat) return this.#duplicate();
      } else {
        if (r.version === 0) return this.#reject('malformed');
        const e = s.entries.get(p.key);
        if (e !== undefined && r.version <= e.version) {
          if (
            r.version === e.version &&
            s.unconfirmed?.has(p.key) &&
            bytesEqual(r.signature, e.record.signature)
          ) {
            s.unconfirmed.delete(p.key);
          }
          return this.#duplicate();
        }
        if (r.version <= s.maxVersion) return this.#duplicate();
        if (p.value === null && r.version <= s.gcVersion) return this.#duplicate();
        if (e === undefined && s.entries.size >= this.config.maxKeysPerNode) return this.#reject('limit');
      }
    } else if (s === undefined && this.#nodes.size >= this.limits.maxNodes) {
      return this.#reject('limit');
    }
    if (this.#bytes - this.#freedBy(s, p) + recordBytes(r) > this.limits.maxStateBytes) {
      return this.#reject('budget');
    }
    // Verified once per process and shared by every node that keeps it (../intern.ts).
    const record = verifiedRecord(
      { node, version: r.version, payload: r.payload, signature: r.signature },
      this.#scheme,
      (compact) => verifyRecord(compact, this.#scheme),
    );
    if (record === undefined) return this.#reject('forged');
    const target =
      s === undefined || p.generation > s.generation ? this.#generationReset(node, p.generation, events) : s;
    this.stats.applied++;
    if (p.type === 'heartbeat') {
      assert(r.version > target.heartbeat, 'heartbeats only grow');
      this.#tracked(target, () => target.setHeartbeat(record));
      events.push({ type: 'heartbeat', node, heartbeat: r.version, record });
      return true;
    }
    // A byte value decoded from `r` is a view into the packet or frame it came in, which the
    // transport reuses once the handler returns: keep the one decoded from the kept record.
    const value =
      p.value instanceof Uint8Array && record.payload !== r.payload
        ? ownValue(record.payload, p.value, this.#bounds)
        : p.value;
    this.#put(target, p.key, value, record, nowMs);
    events.push({
      type: 'update',
      node,
      key: p.key,
      value: value ?? undefined,
      version: r.version,
      record,
    });
    return true;
  }

  /** Bytes that applying a record with payload `p` would drop: the record it replaces, or a whole older generation. */
  #freedBy(s: NodeState | undefined, p: StatePayload): number {
    if (s === undefined) return 0;
    if (p.generation > s.generation) return s.bytes;
    if (p.type === 'heartbeat') return s.heartbeatRecord === undefined ? 0 : recordBytes(s.heartbeatRecord);
    const e = s.entries.get(p.key);
    return e === undefined ? 0 : recordBytes(e.record);
  }

  #duplicate(): false {
    this.stats.duplicates++;
    return false;
  }
}

/** The byte value of a kv payload, decoded from `payload` (the record kept); `seen` when that fails. */
function ownValue(
  payload: Uint8Array,
  seen: Uint8Array,
  bounds: Parameters<typeof decodeStatePayload>[1],
): StateValue {
  const again = decodeStatePayload(payload, bounds);
  // The kept record has the same bytes as the one already decoded, so this cannot fail; a copy
  // keeps the rule (no view into a delivered packet) even if it did.
  return again?.type === 'kv' && again.value instanceof Uint8Array ? again.value : new Uint8Array(seen);
}
