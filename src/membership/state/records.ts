import { encode, fail, tryDecode, type Validator, v } from '../../core/index.js';
import type { NodeId, NodeIdentity, SignatureScheme, SignedRecord } from '../../security/index.js';
import { ed25519Scheme, SIGNATURE_BYTES, signRecord, verifyRecord } from '../../security/index.js';
import { DEFAULT_LIMITS, type StateLimits } from './limits.js';

/**
 * The signed records of the state core (brick DESIGN.md, "Records and signatures").
 *
 * A record is a security `SignedRecord` whose signer is the node it describes; its `version`
 * field (covered by the signature) is the kv version or the heartbeat counter, and its payload is
 * a MessagePack map with a `type` tag, so that a record of one kind never reads as another (SWIM's
 * `alive`/`leave` records use other tags and are malformed here):
 *
 * - `kv`: `{ type: 'kv', generation, key, value }`, `value` a string, bytes, or `null` for a
 *   tombstone. The version is not repeated in the payload: the signed header carries it.
 * - `heartbeat`: `{ type: 'heartbeat', generation }`, version = the heartbeat counter.
 *
 * Values are `string` or `Uint8Array` and keep their type end to end (MessagePack `str` vs `bin`).
 */

/** A value in a node's state: text or bytes; the type survives the wire. */
export type StateValue = string | Uint8Array;

/**
 * Why a record was not applied. `stale` = an older generation than the one known; `unvouched` =
 * a node the driver does not vouch for (not a live member); `budget` = over `maxStateBytes`.
 */
export type RejectReason = 'unsigned' | 'forged' | 'stale' | 'malformed' | 'limit' | 'unvouched' | 'budget';

/** Every {@link RejectReason}, for metrics labels. */
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze([
  'unsigned',
  'forged',
  'stale',
  'malformed',
  'limit',
  'unvouched',
  'budget',
]);

/** The fields of a `kv` record. `value: null` is a tombstone. */
export interface KvFields {
  readonly node: NodeId;
  readonly generation: number;
  readonly version: number;
  readonly key: string;
  readonly value: StateValue | null;
}

/** The fields of a `heartbeat` record. */
export interface HeartbeatFields {
  readonly node: NodeId;
  readonly generation: number;
  readonly heartbeat: number;
}

/** A decoded payload, before its node and version are attached. */
export type StatePayload =
  | {
      readonly type: 'kv';
      readonly generation: number;
      readonly key: string;
      readonly value: StateValue | null;
    }
  | { readonly type: 'heartbeat'; readonly generation: number };

/** Size bounds a payload is checked against (a `StateConfig` or the hard limits). */
export interface PayloadBounds {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/** UTF-8 (string) or raw (bytes) length of a value. */
export function valueBytes(value: StateValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

function payloadValidator(bounds: PayloadBounds): Validator<StatePayload> {
  const generation = v.uint();
  const key: Validator<string> = (value, path = '$') => {
    if (typeof value !== 'string' || value.length === 0) fail(path, 'a non-empty string', value);
    if (Buffer.byteLength(value, 'utf8') > bounds.maxKeyBytes)
      fail(path, `a key of at most ${bounds.maxKeyBytes} UTF-8 bytes`, value);
    return value;
  };
  const value: Validator<StateValue | null> = (x, path = '$') => {
    if (x === null) return null;
    if (typeof x !== 'string' && !(x instanceof Uint8Array)) fail(path, 'a string, bytes or null', x);
    if (valueBytes(x) > bounds.maxValueBytes)
      fail(path, `a value of at most ${bounds.maxValueBytes} bytes`, x);
    return x;
  };
  const kv = v.object({ type: v.literal('kv'), generation, key, value });
  const hb = v.object({ type: v.literal('heartbeat'), generation });
  return v.tagged('type', { kv, heartbeat: hb }) as Validator<StatePayload>;
}

const defaultPayloadValidator = payloadValidator(DEFAULT_LIMITS);
const validatorCache = new WeakMap<PayloadBounds, Validator<StatePayload>>();

/**
 * Decodes and validates a record payload; `undefined` when malformed (not MessagePack, unknown
 * type, generation 0, empty or oversized key or value). Never throws.
 *
 * @param bounds - key and value bounds (default the hard limits)
 */
export function decodeStatePayload(
  payload: Uint8Array,
  bounds: PayloadBounds = DEFAULT_LIMITS,
): StatePayload | undefined {
  let validate = bounds === DEFAULT_LIMITS ? defaultPayloadValidator : validatorCache.get(bounds);
  if (validate === undefined) {
    validate = payloadValidator(bounds);
    validatorCache.set(bounds, validate);
  }
  const p = tryDecode(payload, validate);
  return p === undefined || p.generation < 1 ? undefined : p;
}

/** The payload bytes of a kv record. */
export function encodeKvPayload(generation: number, key: string, value: StateValue | null): Uint8Array {
  return encode({ type: 'kv', generation, key, value });
}

/** The payload bytes of a heartbeat record. */
export function encodeHeartbeatPayload(generation: number): Uint8Array {
  return encode({ type: 'heartbeat', generation });
}

/**
 * Signs a `kv` record as `identity`.
 *
 * @param fields - generation (>= 1), version (>= 1), key and value (`null` = tombstone); the node
 *   is the identity's
 * @param scheme - default `ed25519Scheme`
 * @example
 * ```ts
 * const rec = makeKvRecord(me, { generation: 1, version: 3, key: 'role', value: 'kv' });
 * openKvRecord(rec)?.value; // 'kv'
 * ```
 */
export function makeKvRecord(
  identity: NodeIdentity,
  fields: Omit<KvFields, 'node'>,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  return signRecord(
    identity,
    fields.version,
    encodeKvPayload(fields.generation, fields.key, fields.value),
    scheme,
  );
}

/**
 * Signs a `heartbeat` record as `identity`.
 *
 * @param scheme - default `ed25519Scheme`
 */
export function makeHeartbeatRecord(
  identity: NodeIdentity,
  fields: Omit<HeartbeatFields, 'node'>,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  return signRecord(identity, fields.heartbeat, encodeHeartbeatPayload(fields.generation), scheme);
}

/** The outcome of {@link openStateRecord}. */
export type OpenedRecord =
  | { readonly ok: true; readonly kind: 'kv'; readonly fields: KvFields }
  | { readonly ok: true; readonly kind: 'heartbeat'; readonly fields: HeartbeatFields }
  | { readonly ok: false; readonly reason: Exclude<RejectReason, 'stale' | 'limit'> };

/**
 * Checks a record's signature and decodes it: `unsigned` (no 64-byte signature), `malformed`
 * (bad payload), `forged` (the signature is not the described node's). Never throws.
 *
 * @param scheme - default `ed25519Scheme`; must match the signer's
 * @param bounds - key and value bounds (default the hard limits)
 */
export function openStateRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
  bounds: PayloadBounds = DEFAULT_LIMITS,
): OpenedRecord {
  if (!(record.signature instanceof Uint8Array) || record.signature.length !== SIGNATURE_BYTES) {
    return { ok: false, reason: 'unsigned' };
  }
  const p = decodeStatePayload(record.payload, bounds);
  if (p === undefined) return { ok: false, reason: 'malformed' };
  if (!verifyRecord(record, scheme)) return { ok: false, reason: 'forged' };
  return toOpened(record.node, record.version, p);
}

/** Attaches node and version to a decoded payload. */
export function toOpened(node: NodeId, version: number, p: StatePayload): OpenedRecord {
  if (p.type === 'kv') {
    return {
      ok: true,
      kind: 'kv',
      fields: { node, generation: p.generation, version, key: p.key, value: p.value },
    };
  }
  return { ok: true, kind: 'heartbeat', fields: { node, generation: p.generation, heartbeat: version } };
}

/**
 * The fields of a valid, authentic `kv` record; `undefined` for an unsigned, forged, malformed
 * or non-kv record.
 *
 * @param scheme - default `ed25519Scheme`
 * @param bounds - key and value bounds (default the hard limits)
 */
export function openKvRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
  bounds: PayloadBounds = DEFAULT_LIMITS,
): KvFields | undefined {
  const opened = openStateRecord(record, scheme, bounds);
  return opened.ok && opened.kind === 'kv' ? opened.fields : undefined;
}

/** Record bounds of a state: `limits` tightened by a config. */
export function payloadBounds(limits: StateLimits, config: PayloadBounds): PayloadBounds {
  return {
    maxKeyBytes: Math.min(limits.maxKeyBytes, config.maxKeyBytes),
    maxValueBytes: Math.min(limits.maxValueBytes, config.maxValueBytes),
  };
}
