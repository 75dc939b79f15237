import { AsyncLocalStorage } from 'node:async_hooks';
import { bytesEqual, isLoaned } from '../core/index.js';
import type { SignatureScheme, SignedRecord } from '../security/index.js';

/**
 * Content-addressed sharing of immutable records inside one process.
 *
 * Why: a record a node signs travels to every member, and every member keeps it (an alive record
 * per member in SWIM, a heartbeat and key/value records per node in Scuttlebutt). Decoded from a
 * packet, each copy is a view into that packet's buffer, so one 250-byte record held by a member
 * pins a 1,400-byte datagram, and N members hold N copies. In a simulation of N nodes in one
 * process that is N^2 copies. Here the first copy that verifies becomes the canonical one (its
 * bytes copied out of the packet, exactly sized), and every later identical record, received by
 * any node in the process, is answered with that same object and its cached verification.
 *
 * Contract (why it changes no behaviour): a hit needs the same scheme name, node id, version,
 * signature and payload bytes (compared in full) as an earlier record that verified; the answer is
 * then what verifying this record would answer. Failures are never cached. Records are immutable
 * (`SignedRecord` is read-only), so sharing one object between nodes is invisible to them. Entries
 * are held weakly: a record no node keeps any more is collected and its entry removed, so the
 * cache never holds more than what is alive anyway.
 *
 * Sharing spans one {@link InternScope}: the process unless code runs in a scope of its own. The
 * membership benchmark runs each node in its own scope, so a node pays for what it receives as
 * it would alone in its process; the simulator shares across the process.
 */

/** Counters of every scope's record caches, summed (hits are verifications and copies saved). */
export const internStats = { hits: 0, misses: 0 };

/**
 * Weakly held values by a number (bits of a signature or of an encoding: a collision only costs a
 * miss, since callers compare a hit in full).
 */
class WeakCache<V extends object> {
  private readonly map = new Map<number, WeakRef<V>>();
  private readonly registry = new FinalizationRegistry<number>((key) => {
    const ref = this.map.get(key);
    if (ref !== undefined && ref.deref() === undefined) this.map.delete(key);
  });

  get(key: number): V | undefined {
    return this.map.get(key)?.deref();
  }

  set(key: number, value: V): void {
    this.map.set(key, new WeakRef(value));
    this.registry.register(value, key);
  }
}

/**
 * Where records, their verifications, encodings and interned strings are shared: by default the
 * whole process ({@link PROCESS_SCOPE}), which is what a simulation of thousands of nodes in one
 * process needs. Code run through {@link runInInternScope} shares them only with code run in the
 * same scope, so N nodes of one process, each run in a scope of its own, each verify and decode
 * what they receive themselves, as N processes would.
 *
 * Contract: the scope is found from the async context (`AsyncLocalStorage`), so everything a node
 * started inside its scope (sockets, timers, promise continuations) stays in it. Scopes change no
 * answer, only how much work is shared.
 *
 * @example
 * ```ts
 * const scope = new InternScope('n1');
 * await runInInternScope(scope, () => Membership.create(options));
 * await runInInternScope(scope, () => membership.join(seeds));
 * ```
 */
export class InternScope {
  /** Lookups of this scope's record caches (hits are verifications and copies saved). */
  readonly stats = { hits: 0, misses: 0 };
  /** @internal Shared encodings by record object and message type. */
  readonly encodedParts = new WeakMap<SignedRecord, Map<string, SharedEncoding>>();
  /** @internal Shared encodings by {@link encodingKey} (each lives as long as its record). */
  readonly encodingsByKey = new WeakCache<SharedEncoding>();
  /** @internal Record-alone encodings by record object. */
  readonly recordEncodings = new WeakMap<SignedRecord, Uint8Array>();

  /** @param name - a label for reports (a node's name, say) */
  constructor(readonly name: string) {}
}

/** The scope of code not run through {@link runInInternScope}: the whole process. */
export const PROCESS_SCOPE = new InternScope('process');

const scopes = new AsyncLocalStorage<InternScope>();
/** Off until the first {@link runInInternScope}, so a process that never scopes skips the lookup. */
let scoping = false;

/**
 * Runs `fn` in `scope`: what it and everything it starts (sockets, timers, continuations) interns
 * is shared only within `scope`.
 *
 * @param scope - the scope; {@link PROCESS_SCOPE} shares with everything unscoped
 * @param fn - run at once, its result returned
 */
export function runInInternScope<T>(scope: InternScope, fn: () => T): T {
  scoping = true;
  return scopes.run(scope, fn);
}

/** The scope the caller runs in ({@link PROCESS_SCOPE} unless inside {@link runInInternScope}). */
export function currentInternScope(): InternScope {
  return scoping ? (scopes.getStore() ?? PROCESS_SCOPE) : PROCESS_SCOPE;
}

function countHit(scope: InternScope): void {
  internStats.hits++;
  scope.stats.hits++;
}

/** 48 bits of `signature` as a number (signatures are uniformly random bytes). */
function signatureKey(signature: Uint8Array): number {
  if (signature.length < 6) return -1;
  return (
    (signature[0]! | (signature[1]! << 8) | (signature[2]! << 16)) * 0x1000000 +
    (signature[3]! | (signature[4]! << 8) | (signature[5]! << 16))
  );
}

function sameRecord(a: SignedRecord, b: SignedRecord): boolean {
  return (
    a === b ||
    (a.node === b.node &&
      a.version === b.version &&
      bytesEqual(a.signature, b.signature) &&
      bytesEqual(a.payload, b.payload))
  );
}

/**
 * `bytes` with a buffer of its own: the codec returns views into one shared buffer of 64 KiB and
 * more, so a small encoding kept for long (a queued broadcast, a record) would keep that whole
 * buffer alive. Returns `bytes` itself when it already owns its buffer.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  // Not `slice()`: on a Node Buffer (what the codec returns) that is a view, not a copy. A whole
  // lent array (`takeBytes`: a packet or frame as delivered) is not its holder's to keep either.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !isLoaned(bytes)
    ? bytes
    : new Uint8Array(bytes);
}

/** A copy of `record` whose bytes are its own (not views into a larger buffer). */
export function compactRecord(record: SignedRecord): SignedRecord {
  return {
    node: internId(record.node),
    version: record.version,
    payload: ownBytes(record.payload),
    signature: ownBytes(record.signature),
  };
}

/** Opened values of one scheme in one scope, by signature bits and by record object. */
interface OpenedTable<V extends object> {
  readonly byKey: WeakCache<V>;
  readonly byRecord: WeakMap<SignedRecord, V>;
}

/** One scope's tables of an {@link OpenedRecordCache}, by scheme name. */
type OpenedTables<V extends object> = Map<string, OpenedTable<V>>;

/**
 * A cache of values derived from verified records (`open(record)`): each distinct record is
 * opened once per {@link InternScope} (the process, unless the caller runs in a scope of its own);
 * the value must be immutable and must not depend on anything but the record and the scheme.
 */
export class OpenedRecordCache<V extends object> {
  private readonly processTables: OpenedTables<V> = new Map();
  private readonly scopedTables = new WeakMap<InternScope, OpenedTables<V>>();

  /** @param recordOf - the record a value was opened from (kept alive by the value) */
  constructor(private readonly recordOf: (value: V) => SignedRecord) {}

  /**
   * The opened value of `record`: the shared one when an identical record was opened before in
   * this scope, otherwise `open(compactRecord(record))`, shared from now on when it succeeded. The
   * shared record object itself (the value's record, which nodes relay) is found by identity,
   * without reading its bytes.
   *
   * @param open - verifies and decodes; returns undefined on failure (not cached)
   */
  open(
    record: SignedRecord,
    scheme: SignatureScheme,
    open: (record: SignedRecord) => V | undefined,
  ): V | undefined {
    const hit = this.cached(record, scheme);
    if (hit !== undefined) return hit;
    const scope = currentInternScope();
    internStats.misses++;
    scope.stats.misses++;
    const value = open(compactRecord(record));
    if (value !== undefined) {
      const cache = this.cacheOf(scope, scheme);
      cache.byRecord.set(this.recordOf(value), value);
      const key = signatureKey(record.signature);
      if (key >= 0) cache.byKey.set(key, value);
    }
    return value;
  }

  /**
   * The shared opened value of a record identical to `record`, or undefined when none is held in
   * this scope: the first half of {@link open}, for callers on a hot path that take the miss path
   * themselves (it allocates nothing).
   */
  cached(record: SignedRecord, scheme: SignatureScheme): V | undefined {
    const scope = currentInternScope();
    const cache = this.cacheOf(scope, scheme);
    const shared = cache.byRecord.get(record);
    if (shared !== undefined) {
      countHit(scope);
      return shared;
    }
    const key = signatureKey(record.signature);
    const hit = key < 0 ? undefined : cache.byKey.get(key);
    if (hit !== undefined && sameRecord(this.recordOf(hit), record)) {
      countHit(scope);
      return hit;
    }
    return undefined;
  }

  private cacheOf(scope: InternScope, scheme: SignatureScheme): OpenedTable<V> {
    let tables = scope === PROCESS_SCOPE ? this.processTables : this.scopedTables.get(scope);
    if (tables === undefined) {
      tables = new Map();
      this.scopedTables.set(scope, tables);
    }
    let cache = tables.get(scheme.name);
    if (cache === undefined) {
      cache = { byKey: new WeakCache<V>(), byRecord: new WeakMap() };
      tables.set(scheme.name, cache);
    }
    return cache;
  }
}

const plainRecords = new OpenedRecordCache<SignedRecord>((r) => r);

/**
 * The shared verified copy of `record`, or undefined when it does not verify (`verify` is the
 * check to run on a miss, e.g. `verifyRecord(r, scheme)`).
 */
export function verifiedRecord(
  record: SignedRecord,
  scheme: SignatureScheme,
  verify: (record: SignedRecord) => boolean,
): SignedRecord | undefined {
  return plainRecords.open(record, scheme, (r) => (verify(r) ? r : undefined));
}

/**
 * Values derived from a string alone (an id's interned copy, its queue key, its hash), shared by
 * every node of the {@link InternScope} (the process, unless the caller runs in a scope of its
 * own). A cache, never state: a scope's map starts over when it holds `max` keys.
 *
 * Keys are stored as fresh flat copies: a string decoded from a packet may be a slice of a string
 * of the whole packet (msgpackr decodes short strings that way), and keeping the slice as a key
 * would keep the packet.
 */
export class SharedStringCache<V> {
  private readonly processMap = new Map<string, V>();
  private readonly scopedMaps = new WeakMap<InternScope, Map<string, V>>();

  /** @param derive - computes the value of a key (given the flat copy); must depend on it alone */
  constructor(
    private readonly derive: (key: string) => V,
    private readonly max = 1 << 20,
  ) {}

  /** The value of `key`, derived on the first call in this scope (and again after it started over). */
  get(key: string): V {
    const map = this.mapOf(currentInternScope());
    const known = map.get(key);
    if (known !== undefined) return known;
    if (map.size >= this.max) map.clear();
    const own = Buffer.from(key, 'utf8').toString('utf8');
    const value = this.derive(own);
    map.set(own, value);
    return value;
  }

  private mapOf(scope: InternScope): Map<string, V> {
    if (scope === PROCESS_SCOPE) return this.processMap;
    let map = this.scopedMaps.get(scope);
    if (map === undefined) {
      map = new Map();
      this.scopedMaps.set(scope, map);
    }
    return map;
  }
}

const ids = new SharedStringCache<string>((id) => id);

/**
 * The scope's one copy of the string `id` (a node id, say): a string decoded from a packet is a
 * new copy each time, and every node of a simulation keeps one per member. The copy is flat (see
 * {@link SharedStringCache}), so keeping it never keeps a packet.
 */
export function internId<T extends string>(id: T): T {
  return ids.get(id) as T;
}

/** A shared encoding of a message made of a type and a record (see {@link sharedEncoding}). */
export interface SharedEncoding {
  readonly type: string;
  readonly record: SignedRecord;
  /** The encoding: a Buffer with a buffer of its own, compared natively against ranges. */
  readonly bytes: Buffer;
}

/**
 * 30 bits of an encoding's last four bytes (a record's encoding, and a message's that ends in a
 * record, ends in its signature) mixed with its length (the encodings of one record as different
 * messages have different lengths): a small integer, the cheapest `Map` key. A collision only
 * costs a miss.
 */
function encodingKey(bytes: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n < 4) return -1;
  const tail = bytes[end - 4]! | (bytes[end - 3]! << 8) | (bytes[end - 2]! << 16) | (bytes[end - 1]! << 24);
  return (tail ^ Math.imul(n, 0x9e3779b1)) & 0x3fffffff;
}

/**
 * The encoding of a message made of `type` and `record` (a SWIM `Alive` part, a record alone in a
 * push-pull frame), made once per shared record object and type; {@link sharedEncodingOf} finds
 * the record and type again from those bytes. The bytes are shared: callers must not modify them.
 *
 * @param encode - the codec's encoding of the message (the same bytes whenever it is called)
 */
export function sharedEncoding(type: string, record: SignedRecord, encode: () => Uint8Array): Uint8Array {
  const scope = currentInternScope();
  let byType = scope.encodedParts.get(record);
  if (byType === undefined) {
    byType = new Map();
    scope.encodedParts.set(record, byType);
  }
  let shared = byType.get(type);
  if (shared === undefined) {
    const encoded = encode();
    const bytes = Buffer.allocUnsafeSlow(encoded.length);
    bytes.set(encoded);
    shared = { type, record, bytes };
    byType.set(type, shared);
    const key = encodingKey(bytes, 0, bytes.length);
    if (key >= 0) scope.encodingsByKey.set(key, shared);
  }
  return shared.bytes;
}

/**
 * The shared encoding that is exactly `bytes[start, end)`, if one is alive in the scope: its
 * type and record are what decoding those bytes would give, found without decoding or allocating.
 * Records travel to every member, relayed as they were received, so most of what a node of a
 * simulation receives is an encoding another node of the process made (and in a real cluster, the
 * records a node relays come back to it in push-pull frames).
 *
 * Contract: a hit compares every byte, and the same bytes decode to the same value, so the answer
 * is what the decoder would return; the record is valid because it was decoded and validated (or
 * signed) before it was shared. Misses answer undefined; the caller decodes.
 */
export function sharedEncodingOf(bytes: Uint8Array, start: number, end: number): SharedEncoding | undefined {
  const key = encodingKey(bytes, start, end);
  const shared = key < 0 ? undefined : currentInternScope().encodingsByKey.get(key);
  return shared !== undefined &&
    shared.bytes.length === end - start &&
    shared.bytes.compare(bytes, start, end) === 0
    ? shared
    : undefined;
}

/** The encoding of a shared record alone (`encode` is the codec's); see {@link sharedEncoding}. */
export function recordEncoding(
  record: SignedRecord,
  encode: (record: SignedRecord) => Uint8Array,
): Uint8Array {
  // The one lookup push-pull makes per record of a frame (a seed's frame holds every member's).
  const { recordEncodings } = currentInternScope();
  let bytes = recordEncodings.get(record);
  if (bytes === undefined) {
    bytes = sharedEncoding('record', record, () => encode(record));
    recordEncodings.set(record, bytes);
  }
  return bytes;
}

/** The shared record whose {@link recordEncoding} is exactly `bytes[start, end)`, if any. */
export function recordOfEncoding(bytes: Uint8Array, start: number, end: number): SignedRecord | undefined {
  const shared = sharedEncodingOf(bytes, start, end);
  return shared?.type === 'record' ? shared.record : undefined;
}
