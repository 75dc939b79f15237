import { encode, fail, tryDecode, type Validator, v } from '../../core/index.js';
import { type NodeId, NodeIdValidator, SIGNATURE_BYTES } from '../../security/index.js';
import { DEFAULT_LIMITS as SECURITY_LIMITS } from '../../security/limits.js';
import { DEFAULT_LIMITS, type StateLimits } from './limits.js';
import { arrayHeaderBytes, binBytes, strBytes, uintBytes } from './wire-size.js';

/**
 * The Scuttlebutt messages: `Syn{cluster?, digest}` -> `SynAck{digest, delta}` -> `Ack{delta}`.
 *
 * Wire form (MessagePack through core `encode`): a map `{ type, cluster?, partial, digest, delta }`
 * with compact arrays inside, because deltas are filled to the MTU and every byte counts:
 *
 * - digest entry: `[node, generation, maxVersion, gcVersion, heartbeat]`
 * - node delta:   `[node, generation, fromVersion, maxVersion, gcVersion, heartbeat | nil, records]`
 * - record:       `[version, payload, signature]` (the signer is the node delta's node)
 *
 * `partial: true` marks a digest that lists only some of the sender's nodes (it did not fit);
 * the receiver then offers only the listed nodes (see DESIGN.md, "Partial digests").
 * {@link decodeStateMessage} validates everything against the limits and never throws; records
 * are checked for shape here and for signature and payload by the core.
 */

/** What a node knows about one node: the digest entry. */
export interface DigestEntry {
  readonly node: NodeId;
  /** The generation known; 0 with maxVersion 0 = "I know nothing, send everything". */
  readonly generation: number;
  /** The watermark: every record of the node up to it is known or superseded. */
  readonly maxVersion: number;
  /** Tombstones up to this version were garbage-collected here. */
  readonly gcVersion: number;
  /** The highest heartbeat known. */
  readonly heartbeat: number;
}

/** A digest: entries, and whether it lists every node the sender knows. */
export interface Digest {
  readonly entries: readonly DigestEntry[];
  /** True when some known nodes were left out to fit the MTU. */
  readonly partial: boolean;
}

/** A signed record on the wire, its node given by the enclosing {@link NodeDelta}. */
export interface WireRecord {
  readonly version: number;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * One node's part of a delta: records of `generation` with versions above `fromVersion`, in
 * version order, a prefix of what the sender holds. `fromVersion: 0` with a `gcVersion` above the
 * receiver's watermark asks the receiver to reset its state of the node first.
 */
export interface NodeDelta {
  readonly node: NodeId;
  readonly generation: number;
  /** The receiver's watermark the sender assumed (exclusive); 0 = full state. */
  readonly fromVersion: number;
  /** The watermark the receiver may raise to after applying: what the records cover. */
  readonly maxVersion: number;
  /** The sender's gcVersion of the node, adopted on a reset. */
  readonly gcVersion: number;
  /** The node's latest heartbeat record, when the receiver's heartbeat is older. */
  readonly heartbeat: WireRecord | undefined;
  readonly records: readonly WireRecord[];
}

/** The initiator's opening: its digest. */
export interface Syn {
  readonly type: 'Syn';
  /** The cluster name; a receiver in another cluster drops the Syn. */
  readonly cluster?: string;
  readonly digest: Digest;
}

/** The responder's answer: its digest and what the initiator lacks. */
export interface SynAck {
  readonly type: 'SynAck';
  readonly digest: Digest;
  readonly delta: readonly NodeDelta[];
}

/** The initiator's last word: what the responder lacks. */
export interface Ack {
  readonly type: 'Ack';
  readonly delta: readonly NodeDelta[];
}

/** Every state message. */
export type StateMessage = Syn | SynAck | Ack;

/** Longest cluster name accepted. */
export const MAX_CLUSTER_NAME_LENGTH = 128;

type WireRecordTuple = [number, Uint8Array, Uint8Array];
type WireDigestEntry = [string, number, number, number, number];
type WireNodeDelta = [string, number, number, number, number, WireRecordTuple | null, WireRecordTuple[]];

function recordToWire(r: WireRecord): WireRecordTuple {
  return [r.version, r.payload, r.signature];
}

function recordFromWire(r: WireRecordTuple): WireRecord {
  return { version: r[0], payload: r[1], signature: r[2] };
}

function nodeDeltaToWire(d: NodeDelta): WireNodeDelta {
  return [
    d.node,
    d.generation,
    d.fromVersion,
    d.maxVersion,
    d.gcVersion,
    d.heartbeat === undefined ? null : recordToWire(d.heartbeat),
    d.records.map(recordToWire),
  ];
}

function digestToWire(d: Digest): WireDigestEntry[] {
  return d.entries.map((e) => [e.node, e.generation, e.maxVersion, e.gcVersion, e.heartbeat]);
}

/** The wire object of a message (what `encode` is given). */
export function stateMessageToWire(m: StateMessage): Record<string, unknown> {
  switch (m.type) {
    case 'Syn':
      return m.cluster === undefined
        ? { type: 'Syn', partial: m.digest.partial, digest: digestToWire(m.digest) }
        : { type: 'Syn', cluster: m.cluster, partial: m.digest.partial, digest: digestToWire(m.digest) };
    case 'SynAck':
      return {
        type: 'SynAck',
        partial: m.digest.partial,
        digest: digestToWire(m.digest),
        delta: m.delta.map(nodeDeltaToWire),
      };
    case 'Ack':
      return { type: 'Ack', delta: m.delta.map(nodeDeltaToWire) };
  }
}

/** Encodes a state message. */
export function encodeStateMessage(m: StateMessage): Uint8Array {
  return encode(stateMessageToWire(m));
}

function wireValidator(limits: StateLimits): Validator<StateMessage> {
  const uint = v.uint();
  const record = v.tuple(
    uint,
    v.bytes({ maxLength: SECURITY_LIMITS.maxRecordPayloadBytes }),
    v.bytes({ maxLength: SIGNATURE_BYTES }),
  ) as unknown as Validator<WireRecordTuple>;
  const entry = v.tuple(NodeIdValidator, uint, uint, uint, uint) as unknown as Validator<WireDigestEntry>;
  const section = v.tuple(
    NodeIdValidator,
    uint,
    uint,
    uint,
    uint,
    v.nullable(record),
    v.array(record, { maxLength: limits.maxDeltaRecords }),
  ) as unknown as Validator<WireNodeDelta>;
  const digest = v.array(entry, { maxLength: limits.maxDigestEntries });
  const delta: Validator<NodeDelta[]> = (value, path = '$') => {
    const sections = v.array(section, { maxLength: limits.maxDigestEntries })(value, path);
    let records = 0;
    for (const s of sections) records += s[6].length + (s[5] === null ? 0 : 1);
    if (records > limits.maxDeltaRecords) fail(path, `at most ${limits.maxDeltaRecords} records`, value);
    return sections.map((s) => ({
      node: s[0],
      generation: s[1],
      fromVersion: s[2],
      maxVersion: s[3],
      gcVersion: s[4],
      heartbeat: s[5] === null ? undefined : recordFromWire(s[5]),
      records: s[6].map(recordFromWire),
    }));
  };
  const toDigest = (partial: boolean, entries: WireDigestEntry[]): Digest => ({
    partial,
    entries: entries.map((e) => ({
      node: e[0],
      generation: e[1],
      maxVersion: e[2],
      gcVersion: e[3],
      heartbeat: e[4],
    })),
  });
  const syn = v.object({
    type: v.literal('Syn'),
    cluster: v.optional(v.string({ maxLength: MAX_CLUSTER_NAME_LENGTH })),
    partial: v.boolean(),
    digest,
  });
  const synAck = v.object({ type: v.literal('SynAck'), partial: v.boolean(), digest, delta });
  const ack = v.object({ type: v.literal('Ack'), delta });
  const tagged = v.tagged('type', { Syn: syn, SynAck: synAck, Ack: ack });
  return (value, path = '$') => {
    const m = tagged(value, path);
    switch (m.type) {
      case 'Syn': {
        const digestValue = toDigest(m.partial, m.digest);
        return m.cluster === undefined
          ? { type: 'Syn', digest: digestValue }
          : { type: 'Syn', cluster: m.cluster, digest: digestValue };
      }
      case 'SynAck':
        return { type: 'SynAck', digest: toDigest(m.partial, m.digest), delta: m.delta };
      case 'Ack':
        return { type: 'Ack', delta: m.delta };
    }
  };
}

const defaultValidator = wireValidator(DEFAULT_LIMITS);
const validators = new WeakMap<StateLimits, Validator<StateMessage>>();

/**
 * The validator of state messages under `limits` (default {@link DEFAULT_LIMITS}).
 */
export function stateMessageValidator(limits: StateLimits = DEFAULT_LIMITS): Validator<StateMessage> {
  if (limits === DEFAULT_LIMITS) return defaultValidator;
  let val = validators.get(limits);
  if (val === undefined) {
    val = wireValidator(limits);
    validators.set(limits, val);
  }
  return val;
}

/**
 * Decodes and validates a state message; `undefined` when malformed or over a limit. Never
 * throws. Record signatures and payloads are not checked here (the core does, per record).
 *
 * @param limits - default {@link DEFAULT_LIMITS}
 */
export function decodeStateMessage(
  bytes: Uint8Array,
  limits: StateLimits = DEFAULT_LIMITS,
): StateMessage | undefined {
  return tryDecode(bytes, stateMessageValidator(limits), limits.maxMessageBytes);
}

/** Encoded bytes of one record inside a node delta. */
export function wireRecordBytes(r: WireRecord): number {
  return 1 + uintBytes(r.version) + binBytes(r.payload.length) + binBytes(r.signature.length);
}

/** Encoded bytes of one digest entry. */
export function digestEntryBytes(e: DigestEntry): number {
  return (
    1 +
    strBytes(e.node) +
    uintBytes(e.generation) +
    uintBytes(e.maxVersion) +
    uintBytes(e.gcVersion) +
    uintBytes(e.heartbeat)
  );
}

/**
 * Encoded bytes of a node delta without its records: header, fields, heartbeat record (or nil)
 * and the records array header for `recordCount` records.
 */
export function nodeDeltaHeaderBytes(d: Omit<NodeDelta, 'records'>, recordCount: number): number {
  return (
    1 +
    strBytes(d.node) +
    uintBytes(d.generation) +
    uintBytes(d.fromVersion) +
    uintBytes(d.maxVersion) +
    uintBytes(d.gcVersion) +
    (d.heartbeat === undefined ? 1 : wireRecordBytes(d.heartbeat)) +
    arrayHeaderBytes(recordCount)
  );
}
