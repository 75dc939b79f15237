import { encode, fail, tryDecode, type Validator, v } from '../../core/index.js';
import {
  ed25519Scheme,
  type NodeId,
  type NodeIdentity,
  NodeIdValidator,
  SIGNATURE_BYTES,
  type SignatureScheme,
  type SignedRecord,
  signRecord,
  verifyRecord,
} from '../../security/index.js';
import { tryParseAddress } from '../../transport/address.js';
import { compactRecord, OpenedRecordCache, sharedEncodingOf } from '../intern.js';
import { NODE_NAME_PATTERN } from '../node-name.js';
import { DEFAULT_LIMITS, type SwimLimits } from './limits.js';
import { memberKey } from './member-key.js';

/**
 * Wire messages of SWIM, and the signed records it disseminates.
 *
 * Every message is a MessagePack map with a `type` tag (the paper's names). Probe messages
 * (`Ping`, `PingReq`, `Ack`, `Nack`) are unsigned: they prove nothing beyond reachability.
 * Broadcasts (`Alive`, `Leave`, `Suspect`, `Dead`) carry a {@link SignedRecord}: `Alive` and
 * `Leave` are signed by the member they describe, `Suspect` and `Dead` by the accuser. `User`
 * carries opaque bytes for the layer above (Scuttlebutt key/value records) piggybacked on SWIM's
 * packets.
 *
 * Record payloads are MessagePack maps that start with a `kind` field, so a record signed as one
 * kind can never be replayed as another (the message `type` is outside the signature), nor can a
 * record signed for another layer by the same key. The record `version` is the incarnation.
 *
 * Decoding never throws: {@link decodeSwimMessage} and the `open*` helpers return
 * {@link SwimResult} with a {@link SwimRejectReason} for the driver to count.
 */

/** A direct probe: "are you `target`? answer `Ack{seq}`". */
export interface Ping {
  readonly type: 'Ping';
  readonly seq: number;
  /** The node id the prober means to reach; a receiver with another id drops the ping. */
  readonly target: NodeId;
  readonly from: NodeId;
}
/** An indirect probe request: "ping `target` at `targetAddress` for me and relay its ack". */
export interface PingReq {
  readonly type: 'PingReq';
  readonly seq: number;
  readonly target: NodeId;
  readonly targetAddress: string;
  readonly from: NodeId;
}
/** The answer to a Ping, or a relayed answer to a PingReq (same `seq` as the request). */
export interface Ack {
  readonly type: 'Ack';
  readonly seq: number;
  readonly from: NodeId;
  /** Set when the acker does not list the pinging node as alive: "send me your alive record". */
  readonly needAlive?: true;
  /**
   * On a direct answer to a Ping: how many members the acker lists alive or suspect, itself
   * included. A prober that lists clearly fewer, or still fewer a little later, has missed joins
   * and syncs with the acker (the driver's join repair).
   */
  readonly members?: number;
}
/** A relay's "I asked, the target did not answer in time" (Lifeguard). */
export interface Nack {
  readonly type: 'Nack';
  readonly seq: number;
  readonly from: NodeId;
}
/** A member's signed statement that it is alive at an address (`record.node` is the member). */
export interface AliveMessage {
  readonly type: 'Alive';
  readonly record: SignedRecord;
}
/** A member's signed graceful leave. */
export interface LeaveMessage {
  readonly type: 'Leave';
  readonly record: SignedRecord;
}
/** An accuser's signed suspicion of a member (`record.node` is the accuser). */
export interface SuspectMessage {
  readonly type: 'Suspect';
  readonly record: SignedRecord;
}
/** An accuser's signed declaration that a member is dead. */
export interface DeadMessage {
  readonly type: 'Dead';
  readonly record: SignedRecord;
}
/** Opaque bytes of the layer above, piggybacked on SWIM packets. */
export interface UserMessage {
  readonly type: 'User';
  readonly data: Uint8Array;
}

/** Probe messages: handled by the core as they arrive. */
export type ProbeMessage = Ping | PingReq | Ack | Nack;
/** Broadcasts carrying a signed record: verified by the driver ({@link openBroadcast}) first. */
export type BroadcastMessage = AliveMessage | LeaveMessage | SuspectMessage | DeadMessage;
/** Every SWIM message. */
export type SwimMessage = ProbeMessage | BroadcastMessage | UserMessage;

/** Why an input was rejected; drivers count these by reason. */
export type SwimRejectReason =
  | 'malformed'
  | 'too-large'
  | 'bad-signature'
  | 'bad-payload'
  | 'version-mismatch'
  | 'signer-mismatch'
  | 'self-accusation';

/** A value, or the reason there is none. Never thrown. */
export type SwimResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: SwimRejectReason };

/** Fields of an alive record. */
export interface AliveFields {
  readonly generation: number;
  readonly incarnation: number;
  readonly address: string;
  readonly name: string;
}
/** Fields of a leave record. */
export interface LeaveFields {
  readonly generation: number;
  readonly incarnation: number;
}
/** Fields of a suspect or dead accusation; the accuser is the signer. */
export interface AccusationFields {
  /** The accused member. */
  readonly target: NodeId;
  /** The accused member's generation and incarnation the accusation is about. */
  readonly generation: number;
  readonly incarnation: number;
}

/** An alive record whose signature and payload were checked. */
export interface VerifiedAlive extends AliveFields {
  readonly type: 'Alive';
  readonly node: NodeId;
  /** `memberKey(node)`: computed once per opened record, read by the member index and summaries. */
  readonly key: number;
  readonly record: SignedRecord;
}
/** A leave record whose signature and payload were checked. */
export interface VerifiedLeave extends LeaveFields {
  readonly type: 'Leave';
  readonly node: NodeId;
  readonly record: SignedRecord;
}
/** A suspect or dead accusation whose signature and payload were checked. */
export interface VerifiedAccusation extends AccusationFields {
  readonly type: 'Suspect' | 'Dead';
  /** The accuser (the signer). */
  readonly from: NodeId;
  readonly record: SignedRecord;
}
/** What the core accepts as a broadcast: always verified by the driver first. */
export type VerifiedBroadcast = VerifiedAlive | VerifiedLeave | VerifiedAccusation;

const uint = v.uint();

/**
 * A member address: `host:port` (or `[v6]:port`) within `maxLength`, the transport's own syntax.
 * Checked when a message is decoded, so that no address a peer sends can make the transport throw
 * later, inside a step (a PingReq relay pings `targetAddress`; gossip and probes go to the address
 * of an alive record).
 */
export function swimAddressValidator(maxLength: number): Validator<string> {
  return (value, path = '$') => {
    if (typeof value !== 'string' || value.length > maxLength || tryParseAddress(value) === undefined) {
      fail(path, `a host:port address of at most ${maxLength} characters`, value);
    }
    return value;
  };
}

/** A member name on the wire: the agent config's charset (`node-name.ts`), within `maxLength`. */
export function swimNameValidator(maxLength: number): Validator<string> {
  return v.string({ minLength: 1, maxLength, pattern: NODE_NAME_PATTERN });
}

function recordValidator(limits: SwimLimits): Validator<SignedRecord> {
  return v.object({
    node: NodeIdValidator,
    version: uint,
    payload: v.bytes({ maxLength: limits.maxRecordPayloadBytes }),
    signature: v.bytes({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
  });
}

/** The validator of every SWIM message under `limits`. */
export function swimMessageValidator(limits: SwimLimits = DEFAULT_LIMITS): Validator<SwimMessage> {
  const record = recordValidator(limits);
  return v.tagged('type', {
    Ping: v.object({ type: v.literal('Ping'), seq: uint, target: NodeIdValidator, from: NodeIdValidator }),
    PingReq: v.object({
      type: v.literal('PingReq'),
      seq: uint,
      target: NodeIdValidator,
      targetAddress: swimAddressValidator(limits.maxAddressLength),
      from: NodeIdValidator,
    }),
    Ack: v.object({
      type: v.literal('Ack'),
      seq: uint,
      from: NodeIdValidator,
      needAlive: v.optional(v.literal(true)),
      members: v.optional(uint),
    }),
    Nack: v.object({ type: v.literal('Nack'), seq: uint, from: NodeIdValidator }),
    Alive: v.object({ type: v.literal('Alive'), record }),
    Leave: v.object({ type: v.literal('Leave'), record }),
    Suspect: v.object({ type: v.literal('Suspect'), record }),
    Dead: v.object({ type: v.literal('Dead'), record }),
    User: v.object({ type: v.literal('User'), data: v.bytes({ maxLength: limits.maxPartBytes }) }),
  }) as Validator<SwimMessage>;
}

const DEFAULT_VALIDATOR = swimMessageValidator(DEFAULT_LIMITS);

/** Encodes one message (one part of a compound packet). */
export function encodeSwimMessage(message: SwimMessage): Uint8Array {
  return encode(message);
}

/**
 * Decodes and validates one part. Never throws.
 *
 * @param bytes - one part of a compound packet
 * @param limits - default {@link DEFAULT_LIMITS}
 */
export function decodeSwimMessage(
  bytes: Uint8Array,
  limits: SwimLimits = DEFAULT_LIMITS,
): SwimResult<SwimMessage> {
  if (bytes.length > limits.maxPartBytes) return { ok: false, reason: 'too-large' };
  if (limits === DEFAULT_LIMITS) {
    // A broadcast part some node of the process encoded (../intern.ts): its record, unread.
    const shared = sharedEncodingOf(bytes, 0, bytes.length);
    if (shared !== undefined && BROADCAST_TYPES.has(shared.type)) {
      return { ok: true, value: { type: shared.type as BroadcastMessage['type'], record: shared.record } };
    }
  }
  const validator = limits === DEFAULT_LIMITS ? DEFAULT_VALIDATOR : swimMessageValidator(limits);
  const value = tryDecode(bytes, validator, limits.maxPartBytes);
  return value === undefined ? { ok: false, reason: 'malformed' } : { ok: true, value };
}

// Record payloads -------------------------------------------------------------------------------

const generation = uint;
const AlivePayload = v.object({
  kind: v.literal('swim-alive'),
  generation,
  incarnation: uint,
  address: swimAddressValidator(DEFAULT_LIMITS.maxAddressLength),
  name: swimNameValidator(DEFAULT_LIMITS.maxNameLength),
});
const LeavePayload = v.object({ kind: v.literal('swim-leave'), generation, incarnation: uint });
const SuspectPayload = v.object({
  kind: v.literal('swim-suspect'),
  target: NodeIdValidator,
  generation,
  incarnation: uint,
  from: NodeIdValidator,
});
const DeadPayload = v.object({
  kind: v.literal('swim-dead'),
  target: NodeIdValidator,
  generation,
  incarnation: uint,
  from: NodeIdValidator,
});

function open<T>(record: SignedRecord, scheme: SignatureScheme, payload: Validator<T>): SwimResult<T> {
  if (record.payload.length > DEFAULT_LIMITS.maxRecordPayloadBytes) return { ok: false, reason: 'too-large' };
  const fields = tryDecode(record.payload, payload, DEFAULT_LIMITS.maxRecordPayloadBytes);
  if (fields === undefined) return { ok: false, reason: 'bad-payload' };
  if (!verifyRecord(record, scheme)) return { ok: false, reason: 'bad-signature' };
  return { ok: true, value: fields };
}

/**
 * Signs an alive record for `identity` (version = incarnation).
 *
 * @param scheme - default {@link ed25519Scheme}
 * @throws CairnError `INVALID_ARGUMENT`/`LIMIT_EXCEEDED` from `signRecord` for bad fields
 * @example
 * ```ts
 * const record = makeAliveRecord(me, { generation: 1, incarnation: 0, address: '10.0.0.1:7946', name: 'a' });
 * openAliveRecord(record).ok; // true
 * ```
 */
export function makeAliveRecord(
  identity: NodeIdentity,
  fields: AliveFields,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  const payload = encode({
    kind: 'swim-alive',
    generation: fields.generation,
    incarnation: fields.incarnation,
    address: fields.address,
    name: fields.name,
  });
  return compactRecord(signRecord(identity, fields.incarnation, payload, scheme));
}

/** Verifies and decodes an alive record; see {@link makeAliveRecord}. Never throws. */
export function openAliveRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
): SwimResult<VerifiedAlive> {
  // Every member of a cluster receives and keeps every alive record: open each distinct one once
  // per process and share it (see ../intern.ts; a hit is exactly what opening it would answer).
  const hit = openedAlive.cached(record, scheme);
  if (hit !== undefined) return { ok: true, value: hit };
  let failure: SwimResult<VerifiedAlive> | undefined;
  const value = openedAlive.open(record, scheme, (compact) => {
    const r = openAliveUncached(compact, scheme);
    if (r.ok) return r.value;
    failure = r;
    return undefined;
  });
  return value === undefined ? failure! : { ok: true, value };
}

/**
 * {@link openAliveRecord}'s value, or undefined when it fails: for push-pull, which takes thousands
 * of records per frame and only counts failures. A record opened before costs two lookups here and
 * allocates nothing (no result object, no closure).
 */
export function openAliveValue(record: SignedRecord, scheme: SignatureScheme): VerifiedAlive | undefined {
  const hit = openedAlive.cached(record, scheme);
  if (hit !== undefined) return hit;
  const r = openAliveRecord(record, scheme);
  return r.ok ? r.value : undefined;
}

const openedAlive = new OpenedRecordCache<VerifiedAlive>((v) => v.record);

function openAliveUncached(record: SignedRecord, scheme: SignatureScheme): SwimResult<VerifiedAlive> {
  const r = open(record, scheme, AlivePayload);
  if (!r.ok) return r;
  const f = r.value;
  if (record.version !== f.incarnation) return { ok: false, reason: 'version-mismatch' };
  return {
    ok: true,
    value: {
      type: 'Alive',
      node: record.node,
      key: memberKey(record.node),
      record,
      generation: f.generation,
      incarnation: f.incarnation,
      address: f.address,
      name: f.name,
    },
  };
}

/** Signs a leave record for `identity` (version = incarnation). @param scheme - default ed25519 */
export function makeLeaveRecord(
  identity: NodeIdentity,
  fields: LeaveFields,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  const payload = encode({
    kind: 'swim-leave',
    generation: fields.generation,
    incarnation: fields.incarnation,
  });
  return compactRecord(signRecord(identity, fields.incarnation, payload, scheme));
}

/** Verifies and decodes a leave record. Never throws. */
export function openLeaveRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
): SwimResult<VerifiedLeave> {
  const r = open(record, scheme, LeavePayload);
  if (!r.ok) return r;
  if (record.version !== r.value.incarnation) return { ok: false, reason: 'version-mismatch' };
  return {
    ok: true,
    value: {
      type: 'Leave',
      node: record.node,
      record,
      generation: r.value.generation,
      incarnation: r.value.incarnation,
    },
  };
}

function makeAccusation(
  kind: 'swim-suspect' | 'swim-dead',
  identity: NodeIdentity,
  fields: AccusationFields,
  scheme: SignatureScheme,
): SignedRecord {
  const payload = encode({
    kind,
    target: fields.target,
    generation: fields.generation,
    incarnation: fields.incarnation,
    from: identity.nodeId,
  });
  return compactRecord(signRecord(identity, fields.incarnation, payload, scheme));
}

function openAccusation(
  type: 'Suspect' | 'Dead',
  record: SignedRecord,
  scheme: SignatureScheme,
): SwimResult<VerifiedAccusation> {
  const payload: Validator<{ target: NodeId; generation: number; incarnation: number; from: NodeId }> =
    type === 'Suspect' ? SuspectPayload : DeadPayload;
  const r = open(record, scheme, payload);
  if (!r.ok) return r;
  const f = r.value;
  if (f.from !== record.node) return { ok: false, reason: 'signer-mismatch' };
  if (f.target === f.from) return { ok: false, reason: 'self-accusation' };
  if (record.version !== f.incarnation) return { ok: false, reason: 'version-mismatch' };
  return {
    ok: true,
    value: {
      type,
      from: f.from,
      record,
      target: f.target,
      generation: f.generation,
      incarnation: f.incarnation,
    },
  };
}

/** Signs `identity`'s suspicion of `fields.target`. @param scheme - default ed25519 */
export function makeSuspectRecord(
  identity: NodeIdentity,
  fields: AccusationFields,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  return makeAccusation('swim-suspect', identity, fields, scheme);
}

/** Verifies and decodes a suspicion (the signer must be its `from`). Never throws. */
export function openSuspectRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
): SwimResult<VerifiedAccusation> {
  return openAccusation('Suspect', record, scheme);
}

/** Signs `identity`'s declaration that `fields.target` is dead. @param scheme - default ed25519 */
export function makeDeadRecord(
  identity: NodeIdentity,
  fields: AccusationFields,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  return makeAccusation('swim-dead', identity, fields, scheme);
}

/** Verifies and decodes a dead declaration (the signer must be its `from`). Never throws. */
export function openDeadRecord(
  record: SignedRecord,
  scheme: SignatureScheme = ed25519Scheme,
): SwimResult<VerifiedAccusation> {
  return openAccusation('Dead', record, scheme);
}

/**
 * Verifies any broadcast message: one call per part for the driver. Never throws.
 *
 * @param scheme - default {@link ed25519Scheme}; every node of a cluster uses the same
 */
export function openBroadcast(
  message: BroadcastMessage,
  scheme: SignatureScheme = ed25519Scheme,
): SwimResult<VerifiedBroadcast> {
  switch (message.type) {
    case 'Alive':
      return openAliveRecord(message.record, scheme);
    case 'Leave':
      return openLeaveRecord(message.record, scheme);
    case 'Suspect':
      return openSuspectRecord(message.record, scheme);
    case 'Dead':
      return openDeadRecord(message.record, scheme);
  }
}

/** The broadcast kinds: each message is its type and one signed record. */
const BROADCAST_TYPES: ReadonlySet<string> = new Set<BroadcastMessage['type']>([
  'Alive',
  'Leave',
  'Suspect',
  'Dead',
]);

/** True for the broadcast kinds that {@link openBroadcast} takes. */
export function isBroadcastMessage(message: SwimMessage): message is BroadcastMessage {
  return (
    message.type === 'Alive' ||
    message.type === 'Leave' ||
    message.type === 'Suspect' ||
    message.type === 'Dead'
  );
}

/**
 * What the core signs with: the local node's records. Signing is synchronous and deterministic
 * (Ed25519), so the pure core may call it; the private key stays inside the identity.
 */
export interface SwimSigner {
  /** The local node id; records are signed as this node. */
  readonly nodeId: NodeId;
  alive(fields: AliveFields): SignedRecord;
  leave(fields: LeaveFields): SignedRecord;
  suspect(fields: AccusationFields): SignedRecord;
  dead(fields: AccusationFields): SignedRecord;
}

/**
 * A {@link SwimSigner} for `identity`.
 *
 * @param scheme - default {@link ed25519Scheme}; `simulatedScheme` in large simulations
 * @example
 * ```ts
 * const core = new SwimCore({ signer: createSwimSigner(identity), ... });
 * ```
 */
export function createSwimSigner(
  identity: NodeIdentity,
  scheme: SignatureScheme = ed25519Scheme,
): SwimSigner {
  return Object.freeze({
    nodeId: identity.nodeId,
    alive: (f: AliveFields) => makeAliveRecord(identity, f, scheme),
    leave: (f: LeaveFields) => makeLeaveRecord(identity, f, scheme),
    suspect: (f: AccusationFields) => makeSuspectRecord(identity, f, scheme),
    dead: (f: AccusationFields) => makeDeadRecord(identity, f, scheme),
  });
}
