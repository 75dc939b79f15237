import { decode, encode, fail, type Infer, type Validator, v } from '../../core/index.js';
import {
  type Entry,
  type Message,
  type MessageType,
  NETWORK_MESSAGE_TYPES,
  type NodeId,
  type SnapshotMeta,
} from '../types.js';
import { DEFAULT_LIMITS, type RaftNodeLimits } from './limits.js';
import { decodeMessageBatch, encodeMessageBatch } from './wire-batch.js';

/**
 * The raft driver's wire format: frames on transport streams (see DESIGN.md).
 *
 * Every stream starts with a {@link Hello} naming the dialer's and the acceptor's node ids and the
 * stream's kind. A `msg` stream then carries message batch frames in the hand-written binary
 * layout of `wire-batch.ts`; the other frames are MessagePack. A `snap` stream carries
 * one {@link SnapshotHeader}, the snapshot's data in {@link SnapshotChunk} frames, and the
 * receiver's {@link SnapshotAck} back. Local-only message types (`hup`, `beat`, `unreachable`,
 * `snapStatus`, `checkQuorum`) never cross the wire and are refused by the decoder; a `snap`
 * message is refused on a `msg` stream (it only travels as a header plus chunks).
 *
 * Decoders validate every field (types, integer ranges, lengths) and throw `DECODE_FAILED` or
 * `LIMIT_EXCEEDED`; the stream owners catch that, count it and close the stream.
 */

/**
 * Version of the wire format; a hello with another version is refused. 2: batches in the binary
 * layout (1 was MessagePack maps; no mixed-version cluster is supported before the first release).
 */
export const WIRE_VERSION = 2;

/** Message types by their wire code (the index). Local-only types are absent. */
const WIRE_TYPES = NETWORK_MESSAGE_TYPES;

const TYPE_CODE = new Map<MessageType, number>(WIRE_TYPES.map((t, i) => [t, i]));
const SNAP_CODE = TYPE_CODE.get('snap')!;

/** True when a message of this type may be sent to a peer. */
export function isWireType(type: MessageType): boolean {
  return TYPE_CODE.has(type);
}

const EMPTY = new Uint8Array(0);
const id = v.uint({ max: Number.MAX_SAFE_INTEGER });
const index = v.uint({ max: Number.MAX_SAFE_INTEGER });

/** The first frame of every stream, sent by the dialer. */
export interface Hello {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly kind: 'msg' | 'snap';
}

const HELLO = v.object({
  k: v.literal('h'),
  v: v.literal(WIRE_VERSION),
  f: id,
  t: id,
  s: v.oneOf(['msg', 'snap'] as const),
});

/** Encodes a {@link Hello}. */
export function encodeHello(hello: Hello): Uint8Array {
  return encode({ k: 'h', v: WIRE_VERSION, f: hello.from, t: hello.to, s: hello.kind });
}

/** Decodes a {@link Hello}; throws `DECODE_FAILED` for anything else (ids must be non-zero). */
export function decodeHello(frame: Uint8Array): Hello {
  const raw = decode(frame, HELLO, 256);
  if (raw.f === 0) badField('$.f', 'a non-zero node id');
  if (raw.t === 0) badField('$.t', 'a non-zero node id');
  return { from: raw.f, to: raw.t, kind: raw.s };
}

/** Validators built for a set of limits (the entry, context and batch bounds). */
interface Validators {
  readonly message: Validator<RawMessage>;
  readonly header: Validator<RawHeader>;
  readonly chunk: Validator<{ k: 'c'; d: Uint8Array }>;
}

type RawEntry = [number, number, number, Uint8Array];
interface RawMessage {
  y: number;
  f: number;
  o: number;
  t: number;
  l: number;
  i: number;
  c: number;
  r: boolean;
  h: number;
  e?: RawEntry[];
  x?: Uint8Array;
}
interface RawHeader {
  k: 's';
  m: RawMessage;
  mi: number;
  mt: number;
  cv: number[];
  cl: number[];
  n: number;
  sum: Uint8Array;
}

function buildValidators(limits: RaftNodeLimits): Validators {
  const entry = v.tuple(index, index, v.oneOf([0, 1] as const), v.bytes({ maxLength: limits.maxEntryBytes }));
  const message = v.object({
    y: v.uint({ max: WIRE_TYPES.length - 1 }),
    f: id,
    o: id,
    t: index,
    l: index,
    i: index,
    c: index,
    r: v.boolean(),
    h: index,
    e: v.optional(v.array(entry, { maxLength: limits.maxEntriesPerMessage })),
    x: v.optional(v.bytes({ maxLength: limits.maxContextBytes })),
  }) as Validator<RawMessage>;
  const members = v.array(id, { maxLength: 10_000 });
  const header = v.object({
    k: v.literal('s'),
    m: message,
    mi: index,
    mt: index,
    cv: members,
    cl: members,
    n: v.uint({ max: limits.maxSnapshotBytes }),
    sum: v.bytes({ minLength: 32, maxLength: 32 }),
  }) as Validator<RawHeader>;
  const chunk = v.object({ k: v.literal('c'), d: v.bytes({ maxLength: limits.snapshotChunkBytes }) });
  return { message, header, chunk };
}

const DEFAULT_VALIDATORS = buildValidators({ ...DEFAULT_LIMITS });

/** The wire codec for one set of limits. */
export class WireCodec {
  private readonly validators: Validators;

  /** @param limits - the driver's limits (entry, context, batch and snapshot bounds) */
  constructor(private readonly limits: RaftNodeLimits = { ...DEFAULT_LIMITS }) {
    const same = (Object.keys(DEFAULT_LIMITS) as (keyof RaftNodeLimits)[]).every(
      (k) => limits[k] === DEFAULT_LIMITS[k],
    );
    this.validators = same ? DEFAULT_VALIDATORS : buildValidators(limits);
  }

  /** Encodes a batch of messages (none of them `snap`, none local-only) as one frame. */
  encodeBatch(messages: readonly Message[]): Uint8Array {
    return encodeMessageBatch(messages);
  }

  /**
   * Decodes a message frame and checks that every message is from `peer` to `self`.
   * @throws CairnError `DECODE_FAILED` for a malformed frame, a `snap` message or a wrong address
   */
  decodeBatch(frame: Uint8Array, peer: NodeId, self: NodeId): Message[] {
    return decodeMessageBatch(frame, peer, self, this.limits);
  }

  /** Encodes the header of a snapshot transfer: the `snap` message without its data. */
  encodeSnapshotHeader(m: Message, size: number, sum: Uint8Array): Uint8Array {
    const snap = m.snapshot!;
    return encode({
      k: 's',
      m: rawMessage(m),
      mi: snap.meta.index,
      mt: snap.meta.term,
      cv: snap.meta.confState.voters,
      cl: snap.meta.confState.learners,
      n: size,
      sum,
    });
  }

  /** Decodes a snapshot header from `peer` to `self`. */
  decodeSnapshotHeader(
    frame: Uint8Array,
    peer: NodeId,
    self: NodeId,
  ): { message: Message; meta: SnapshotMeta; size: number; sum: Uint8Array } {
    const raw = decode(frame, this.validators.header, 64 * 1024 * 1024);
    if (raw.m.y !== SNAP_CODE) badField('$.m.y', 'a snap message');
    checkAddress(raw.m, peer, self, '$.m');
    return {
      message: toMessage(raw.m),
      meta: { index: raw.mi, term: raw.mt, confState: { voters: raw.cv, learners: raw.cl } },
      size: raw.n,
      sum: new Uint8Array(raw.sum),
    };
  }

  /** Encodes one chunk of snapshot data. */
  encodeChunk(data: Uint8Array): Uint8Array {
    return encode({ k: 'c', d: data });
  }

  /** Decodes one chunk; the data is a view of `frame` (copy it before the handler returns). */
  decodeChunk(frame: Uint8Array): Uint8Array {
    return decode(frame, this.validators.chunk, this.limits.snapshotChunkBytes + 64).d;
  }
}

const ACK = v.object({ k: v.literal('a'), ok: v.boolean() });

/** Encodes the receiver's answer to a snapshot transfer. */
export function encodeSnapshotAck(ok: boolean): Uint8Array {
  return encode({ k: 'a', ok });
}

/** Decodes the receiver's answer to a snapshot transfer. */
export function decodeSnapshotAck(frame: Uint8Array): boolean {
  return decode(frame, ACK, 64).ok;
}

/** The type of a decoded snapshot ack, for tests. */
export type SnapshotAck = Infer<typeof ACK>;

function rawMessage(m: Message): RawMessage {
  const code = TYPE_CODE.get(m.type);
  if (code === undefined) throw new TypeError(`message type ${m.type} is local-only`);
  const out: RawMessage = {
    y: code,
    f: m.from,
    o: m.to,
    t: m.term,
    l: m.logTerm,
    i: m.index,
    c: m.commit,
    r: m.reject,
    h: m.rejectHint,
  };
  if (m.entries.length > 0)
    out.e = m.entries.map((e): RawEntry => [e.term, e.index, e.type === 'conf' ? 1 : 0, e.data]);
  if (m.context !== undefined) out.x = m.context;
  return out;
}

function toMessage(m: RawMessage): Message {
  const entries: Entry[] =
    m.e === undefined
      ? []
      : m.e.map(([term, idx, type, data]) => ({
          term,
          index: idx,
          type: type === 1 ? 'conf' : 'normal',
          // Frames are the handler's for the call only: keep a copy.
          data: data.length === 0 ? EMPTY : new Uint8Array(data),
        }));
  const out: Message = {
    type: WIRE_TYPES[m.y]!,
    from: m.f,
    to: m.o,
    term: m.t,
    logTerm: m.l,
    index: m.i,
    entries,
    commit: m.c,
    reject: m.r,
    rejectHint: m.h,
  };
  return m.x === undefined ? out : { ...out, context: new Uint8Array(m.x) };
}

function checkAddress(m: RawMessage, peer: NodeId, self: NodeId, path: string): void {
  if (m.f !== peer) badField(`${path}.f`, `the stream's peer ${peer} (a peer cannot speak for another id)`);
  if (m.o !== self) badField(`${path}.o`, `this node ${self}`);
}

function badField(path: string, expected: string): never {
  return fail(path, expected);
}
