import {
  concatBytes,
  decode,
  encode,
  MSGPACK_ARRAY,
  MSGPACK_BIN,
  MSGPACK_MAP,
  type MsgpackHeaderCodes,
  msgpackHeaderBytes,
  msgpackValueEnd,
  tryDecode,
  type Validator,
  v,
  writeMsgpackHeader,
} from '../core/index.js';
import { type NodeId, NodeIdValidator, type SignedRecord, SignedRecordValidator } from '../security/index.js';
import { recordEncoding, recordOfEncoding } from './intern.js';
import { SUMMARY_ENTRY_BYTES } from './sync/summary.js';

/**
 * The driver's own messages: what rides inside SWIM `User` parts, the push-pull exchange on sync
 * streams, and direct user messages. SWIM and Scuttlebutt messages have their own codecs
 * (`swim/messages.ts`, `state/messages.ts`); these wrap them. Every decoder validates; the packet and
 * frame decoders return `undefined` for malformed input, and `decodeDirect` throws `DECODE_FAILED`.
 *
 * Channels (one-byte mux ids on the membership transport):
 * - {@link CHANNEL_SWIM}: SWIM compound packets; streams carry TCP-fallback pings.
 * - {@link CHANNEL_STATE}: Scuttlebutt `Syn`/`SynAck`/`Ack` packets (anti-entropy).
 * - {@link CHANNEL_SYNC}: push-pull streams (join and the periodic full sync).
 * - {@link CHANNEL_USER}: direct user messages (`send`): a packet, or a stream when too large.
 * - {@link CHANNEL_PEX}: peer sampling (PeX) view exchanges, when enabled.
 */

export const CHANNEL_SWIM = 1;
export const CHANNEL_STATE = 2;
export const CHANNEL_SYNC = 3;
export const CHANNEL_USER = 4;
export const CHANNEL_PEX = 5;

/** Limits of the driver's messages. */
export const WIRE_LIMITS = Object.freeze({
  /** Alive records in one push-pull frame: a 16,384-member cluster fits. */
  maxSyncMembers: 16_384,
  /** Bytes of one user message or broadcast: a direct message may go over a stream. */
  maxUserMessageBytes: 1024 * 1024,
  /** Bytes of one signed record carried in a SWIM user part. */
  maxPiggybackRecordBytes: 64 * 1024,
  /** Characters of a user broadcast id (`<node id>:<sequence>`). */
  maxBroadcastIdLength: 80,
});

const Record = SignedRecordValidator as Validator<SignedRecord>;

/**
 * A piggybacked item, carried in a SWIM `User` part:
 * - `kv`: a Scuttlebutt record (a key/value write) pushed eagerly ahead of anti-entropy;
 * - `ub`: a user broadcast, identified by its origin's id and sequence number.
 */
export type Piggyback =
  | { readonly k: 'kv'; readonly r: SignedRecord }
  | { readonly k: 'ub'; readonly id: string; readonly r: SignedRecord };

const PiggybackValidator: Validator<Piggyback> = v.tagged('k', {
  kv: v.object({ k: v.literal('kv'), r: Record }),
  ub: v.object({
    k: v.literal('ub'),
    id: v.string({ maxLength: WIRE_LIMITS.maxBroadcastIdLength }),
    r: Record,
  }),
}) as Validator<Piggyback>;

/** Encodes a piggybacked item. */
export function encodePiggyback(item: Piggyback): Uint8Array {
  return encode(item);
}

/** Decodes a piggybacked item; `undefined` when malformed. */
export function decodePiggyback(bytes: Uint8Array): Piggyback | undefined {
  return tryDecode(bytes, PiggybackValidator, WIRE_LIMITS.maxPiggybackRecordBytes + 256);
}

/**
 * One frame of a push-pull exchange on a sync stream (`sync/session.ts`, `sync/summary.ts`):
 * 1. the dialer sends `{ t: 'push', have, alive, state }`: a summary of every member it knows, its
 *    own alive record, and a Scuttlebutt `Syn`;
 * 2. the listener answers `{ t: 'pull', alive, want, state }`: the alive records the dialer lacks
 *    or holds older, the summary entries it wants in turn, and the `SynAck`;
 * 3. the dialer sends `{ t: 'done', alive, state? }`: the wanted records and the `Ack`; both close.
 */
export type SyncFrame =
  | {
      readonly t: 'push';
      readonly have: Uint8Array;
      readonly alive: SignedRecord[];
      readonly state: Uint8Array;
    }
  | {
      readonly t: 'pull';
      readonly alive: SignedRecord[];
      readonly want: number[];
      readonly state: Uint8Array;
    }
  | { readonly t: 'done'; readonly alive: SignedRecord[]; readonly state?: Uint8Array };

/**
 * The validator of sync frames. `state` is an encoded Scuttlebutt message, decoded (and validated)
 * by `decodeStateMessage` afterwards; `have` by `MemberSummary.read`. The records of `alive` are
 * checked one by one as they are read ({@link readRecordList}), so here only the list is.
 */
function syncFrameValidator(maxStateBytes: number): Validator<SyncFrame> {
  const state = v.bytes({ maxLength: maxStateBytes });
  const alive = v.array(v.unknown(), { maxLength: WIRE_LIMITS.maxSyncMembers });
  const have = v.bytes({ maxLength: WIRE_LIMITS.maxSyncMembers * SUMMARY_ENTRY_BYTES });
  const want = v.array(v.uint({ max: WIRE_LIMITS.maxSyncMembers - 1 }), {
    maxLength: WIRE_LIMITS.maxSyncMembers,
  });
  return v.tagged('t', {
    push: v.object({ t: v.literal('push'), have, alive, state }),
    pull: v.object({ t: v.literal('pull'), alive, want, state }),
    done: v.object({ t: v.literal('done'), alive, state: v.optional(state) }),
  }) as Validator<SyncFrame>;
}

/**
 * Encodes a sync frame: plain MessagePack, read by {@link syncFrameDecoder} like any other.
 *
 * Built by hand rather than by one `encode(frame)`: a seed answers every joiner with every alive
 * record it holds, and encoding thousands of records per frame was 15% of a 10,000-node join. The
 * records are shared objects (../intern.ts), so each record's encoding is made once per process
 * and a frame copies them. MessagePack values are self-delimiting and independent of their
 * position, so a map header, the keys and the separately encoded values in order are the encoding.
 *
 * @param alloc - where the frame's bytes come from; push-pull passes `takeBytes`, so that a
 *   simulated network reuses the memory once the peer handled the frame (see core's loan.ts)
 */
export function encodeSyncFrame(
  frame: SyncFrame,
  alloc: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): Uint8Array {
  const pieces: Uint8Array[] = [];
  const entries = Object.entries(frame).filter(([, value]) => value !== undefined);
  // A map 16 header, as the codec writes for objects (so the bytes are the codec's own).
  pieces.push(Uint8Array.of(MSGPACK_MAP.c16, 0, entries.length));
  for (const [key, value] of entries) {
    // Copies: `encode` returns a view into the codec's buffer, which the next call reuses.
    pieces.push(new Uint8Array(encode(key)));
    if (key === 'alive') pushRecordList(pieces, value as SignedRecord[]);
    else if (value instanceof Uint8Array) pushBin(pieces, value);
    else pieces.push(new Uint8Array(encode(value)));
  }
  // One copy of each piece into the frame (records included: no intermediate list).
  return concatBytes(pieces, alloc);
}

/** Appends `bytes` as MessagePack bin: its header, then the bytes themselves (copied once, by the frame). */
function pushBin(pieces: Uint8Array[], bytes: Uint8Array): void {
  pieces.push(lengthHeader(MSGPACK_BIN, bytes.length), bytes);
}

/** Appends a MessagePack array of `records`: its header, then each record's shared encoding. */
function pushRecordList(pieces: Uint8Array[], records: readonly SignedRecord[]): void {
  pieces.push(lengthHeader(MSGPACK_ARRAY, records.length));
  for (const r of records) pieces.push(recordEncoding(r, encode));
}

/** The header of `n` elements or bytes of the family `codes`, in the smallest form that fits. */
function lengthHeader(codes: MsgpackHeaderCodes, n: number): Uint8Array {
  const out = new Uint8Array(msgpackHeaderBytes(codes, n));
  writeMsgpackHeader(codes, n, out, 0);
  return out;
}

/**
 * The count of the array or map (`codes`) whose header starts at `start`, and where its first
 * element starts; `undefined` when the header is of another kind or cut short by `end`.
 */
function readCount(
  codes: MsgpackHeaderCodes,
  bytes: Uint8Array,
  start: number,
  end: number,
): { count: number; at: number } | undefined {
  if (start >= end) return undefined;
  const b = bytes[start]!;
  if (b >= codes.fix && b <= codes.fix + codes.fixMax) return { count: b - codes.fix, at: start + 1 };
  if (b === codes.c16 && end - start >= 3) {
    return { count: (bytes[start + 1]! << 8) | bytes[start + 2]!, at: start + 3 };
  }
  if (b === codes.c32 && end - start >= 5) {
    const count =
      bytes[start + 1]! * 0x100_0000 +
      ((bytes[start + 2]! << 16) | (bytes[start + 3]! << 8) | bytes[start + 4]!);
    return { count, at: start + 5 };
  }
  return undefined;
}

/** The fields a sync frame may have; other keys are skipped, as the object validators skip them. */
const SYNC_FRAME_KEYS = new Set(['t', 'have', 'alive', 'state', 'want']);

/**
 * Most entries a sync frame's top-level map may announce: its five fields with room for a few a
 * later version may add. Without it, one frame of a map announcing 2^21 one-byte entries made the
 * decoder split and decode each of them (2 s of work from one 4 MiB frame).
 */
export const SYNC_FRAME_MAX_FIELDS = 16;

/**
 * A sync-frame decoder for frames of at most `maxFrameBytes`; it returns `undefined` when malformed,
 * or when `alive` lists more than `maxAlive` records (default and cap `maxSyncMembers`: the caller
 * passes what the exchange's phase allows).
 *
 * It reads the frames that decoding with the codec and validating reads (a map, each known field
 * as the validator wants it, a repeated key's last value, nothing after the map; other keys are
 * skipped; at most {@link SYNC_FRAME_MAX_FIELDS} entries), MessagePack only (not msgpackr's own extensions), but in pieces: the top-level map's
 * entries are split without decoding ({@link msgpackValueEnd}), and each record of `alive` is
 * looked up by its bytes first ({@link recordOfEncoding}). A seed answers every joiner with
 * thousands of records that the process's nodes already share, and decoding, validating and
 * looking up each one was 30% of a 6,000-node join profile. A record that is not found is decoded
 * and validated alone.
 */
export function syncFrameDecoder(
  maxFrameBytes: number,
): (bytes: Uint8Array, maxAlive?: number) => SyncFrame | undefined {
  const validator = syncFrameValidator(maxFrameBytes);
  return (bytes, maxAlive = WIRE_LIMITS.maxSyncMembers) => {
    if (bytes.length > maxFrameBytes) return undefined;
    const map = readCount(MSGPACK_MAP, bytes, 0, bytes.length);
    if (map === undefined || map.count > SYNC_FRAME_MAX_FIELDS) return undefined;
    let pos = map.at;
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < map.count; i++) {
      const keyEnd = msgpackValueEnd(bytes, pos);
      const valueEnd = keyEnd < 0 ? -1 : msgpackValueEnd(bytes, keyEnd);
      if (valueEnd < 0) return undefined;
      const key = tryDecode(bytes.subarray(pos, keyEnd), ANY, maxFrameBytes);
      if (typeof key === 'string' && SYNC_FRAME_KEYS.has(key)) {
        // A repeated key: the last value counts, as when the codec decodes the map.
        const value =
          key === 'alive'
            ? readRecordList(bytes, keyEnd, valueEnd, maxAlive)
            : tryDecode(bytes.subarray(keyEnd, valueEnd), ANY, maxFrameBytes);
        if (value === undefined) return undefined;
        fields[key] = value;
      }
      pos = valueEnd;
    }
    if (pos !== bytes.length) return undefined;
    try {
      return validator(fields);
    } catch {
      return undefined;
    }
  };
}

/** Any value: a frame's fields are validated together once they are all read. */
const ANY = v.unknown();

/**
 * A MessagePack array of signed records, each validated: the shared record where the process
 * holds one with exactly these bytes, else decoded. `undefined` when anything is malformed, too
 * long, or not a valid record (as a frame with one bad record fails validation as a whole).
 */
function readRecordList(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxAlive: number,
): SignedRecord[] | undefined {
  const list = readCount(MSGPACK_ARRAY, bytes, start, end);
  // Counted before any record is read: a peer's frame of 16,384 records for a phase that allows
  // one costs a header read, not 16,384 decodes.
  if (list === undefined || list.count > Math.min(maxAlive, WIRE_LIMITS.maxSyncMembers)) return undefined;
  let pos = list.at;
  const records: SignedRecord[] = new Array(list.count);
  for (let i = 0; i < list.count; i++) {
    const next = msgpackValueEnd(bytes, pos, end);
    if (next < 0) return undefined;
    const record =
      recordOfEncoding(bytes, pos, next) ?? tryDecode(bytes.subarray(pos, next), Record, next - pos);
    if (record === undefined) return undefined;
    records[i] = record;
    pos = next;
  }
  return pos === end ? records : undefined;
}

/**
 * A direct user message is a {@link SignedRecord} by its sender whose version is a sequence
 * number (from 1, growing with every message the sender's run sends) and whose payload is a
 * {@link DirectPayload}. The signature binds the sequence, the sender's generation and the
 * recipient, so a captured message cannot be delivered twice (the receiver keeps a replay window
 * per sender, `replay-window.ts`) nor to another node.
 */
export const DirectValidator: Validator<SignedRecord> = Record;

/** The signed payload of a direct message. */
export interface DirectPayload {
  /** Tags the payload, so that no other record of the sender opens as a direct message. */
  readonly kind: 'direct';
  /** The recipient: a receiver with another id refuses the message. */
  readonly to: NodeId;
  /** The sender's generation (this run); the record version is the run's message sequence. */
  readonly generation: number;
  /** The application's bytes. */
  readonly data: Uint8Array;
}

const DirectPayloadValidator: Validator<DirectPayload> = v.object({
  kind: v.literal('direct'),
  to: NodeIdValidator,
  generation: v.uint(),
  data: v.bytes({ maxLength: WIRE_LIMITS.maxUserMessageBytes }),
}) as Validator<DirectPayload>;

/** Bytes a direct message adds to its data: the payload's fields and the signed record's. */
const DIRECT_OVERHEAD_BYTES = 512;

/** Encodes the payload of a direct message (signed by the sender with the sequence as version). */
export function encodeDirectPayload(payload: DirectPayload): Uint8Array {
  return encode(payload);
}

/** Decodes the payload of a direct message; `undefined` when malformed. */
export function decodeDirectPayload(bytes: Uint8Array): DirectPayload | undefined {
  return tryDecode(bytes, DirectPayloadValidator, WIRE_LIMITS.maxUserMessageBytes + DIRECT_OVERHEAD_BYTES);
}

/** Decodes a direct message; throws `DECODE_FAILED` when malformed (callers count and drop). */
export function decodeDirect(bytes: Uint8Array): SignedRecord {
  return decode(bytes, DirectValidator, WIRE_LIMITS.maxUserMessageBytes + 2 * DIRECT_OVERHEAD_BYTES);
}
