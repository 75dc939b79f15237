import { assert, decode, encode, type Validator, v } from '../core/index.js';
import type { RpcLimits } from './limits.js';

/**
 * The rpc wire format: one MessagePack value per stream frame.
 *
 * A frame holds either one {@link RpcMessage} or a {@link BatchMessage} of several. Field names
 * are spelled out (a few bytes per message) so that a frame reads as what it is in any
 * MessagePack dump. Payloads are themselves MessagePack, carried as `bin`: the envelope is
 * validated on arrival, and the payload is decoded only by the side that knows its method's
 * validator (and its size is checked exactly against `maxPayloadBytes`).
 */

/** A call: `id` is the caller's correlation id, `deadlineMs` the caller's remaining budget. */
export interface RequestMessage {
  readonly type: 'request';
  /** Correlation id, unique among the sender's outstanding requests on this channel. */
  readonly id: number;
  /** The method name. */
  readonly method: string;
  /** The MessagePack-encoded request. */
  readonly payload: Uint8Array;
  /**
   * Milliseconds the caller will still wait, measured when the frame was sent. Relative, so the
   * two clocks need not agree; the receiver adds it to its own `now()`.
   */
  readonly deadlineMs?: number;
}

/** A successful answer to request `id`. */
export interface ResponseMessage {
  readonly type: 'response';
  readonly id: number;
  /** The MessagePack-encoded response. */
  readonly payload: Uint8Array;
}

/** A failed answer to request `id`: a stable error code and a sentence. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly id: number;
  /** An error code; one of core's ERROR_CODES when the peer is well-behaved. */
  readonly code: string;
  readonly message: string;
}

/** The caller gave up on request `id` (cancelled or past its deadline): stop working on it. */
export interface CancelMessage {
  readonly type: 'cancel';
  readonly id: number;
}

/** Several messages in one frame, processed in order as if they had arrived one by one. */
export interface BatchMessage {
  readonly type: 'batch';
  readonly messages: readonly RpcMessage[];
}

/** A message that may travel alone or inside a batch (batches do not nest). */
export type RpcMessage = RequestMessage | ResponseMessage | ErrorMessage | CancelMessage;

/** What one frame holds. */
export type RpcFrame = RpcMessage | BatchMessage;

/** Most messages a received batch may hold: the largest count {@link encodeBatch} can write. */
const MAX_RECEIVED_BATCH_COUNT = 0xffff;

/** Longest error code accepted from the wire (codes are short identifiers). */
const MAX_CODE_LENGTH = 64;

/**
 * Builds the validator of one frame under `limits`. Anything that fails it is a malformed frame:
 * it is counted and dropped by the channel.
 */
export function frameValidator(limits: RpcLimits): Validator<RpcFrame> {
  const id = v.uint();
  const payload = v.bytes({ maxLength: limits.maxPayloadBytes });
  const request = v.object({
    type: v.literal('request'),
    id,
    method: v.string({ minLength: 1, maxLength: limits.maxMethodNameLength }),
    payload,
    deadlineMs: v.optional(v.number({ min: 0, max: limits.maxDeadlineMs })),
  });
  const response = v.object({ type: v.literal('response'), id, payload });
  const error = v.object({
    type: v.literal('error'),
    id,
    code: v.string({ maxLength: MAX_CODE_LENGTH }),
    // A peer may use a larger limit than ours; accept some slack, the text is cut for display anyway.
    message: v.string({ maxLength: limits.maxErrorMessageLength * 4 }),
  });
  const cancel = v.object({ type: v.literal('cancel'), id });
  const message: Validator<RpcMessage> = v.tagged('type', { request, response, error, cancel });
  // A sender's maxBatchCount bounds what it sends; on receipt a batch is bounded by the frame's
  // byte limit and the most an encoder can write (65,535), so peers with different settings interoperate.
  const batch = v.object({
    type: v.literal('batch'),
    messages: v.array(message, { minLength: 1, maxLength: MAX_RECEIVED_BATCH_COUNT }),
  });
  return v.tagged('type', { request, response, error, cancel, batch });
}

/**
 * Decodes and validates one frame.
 *
 * @throws CairnError `DECODE_FAILED` or `LIMIT_EXCEEDED` for a malformed frame
 */
export function decodeFrame(
  bytes: Uint8Array,
  validate: Validator<RpcFrame>,
  maxFrameBytes: number,
): RpcFrame {
  return decode(bytes, validate, maxFrameBytes);
}

/** Encodes one message as a frame of its own (also the unit a batch is built from). */
export function encodeMessage(message: RpcMessage): Uint8Array {
  return encode(message);
}

/**
 * The bytes of `{ type: 'batch', messages: [] }` without the final empty-array byte. MessagePack
 * is concatenative, so a batch frame is this prefix, an array header and the already-encoded
 * messages back to back: no message is encoded twice.
 */
const BATCH_PREFIX: Uint8Array = (() => {
  const empty = encode({ type: 'batch', messages: [] });
  assert(empty[empty.length - 1] === 0x90, 'an empty array encodes as fixarray 0x90');
  return empty.slice(0, empty.length - 1);
})();

/** Size in bytes of a batch frame's envelope for `count` messages (prefix plus array header). */
export function batchOverheadBytes(count: number): number {
  return BATCH_PREFIX.length + arrayHeaderLength(count);
}

function arrayHeaderLength(count: number): number {
  return count < 16 ? 1 : 3;
}

/**
 * Builds a batch frame from messages encoded by {@link encodeMessage}.
 *
 * @param encoded - between 2 and 65535 encoded messages, in sending order
 */
export function encodeBatch(encoded: readonly Uint8Array[]): Uint8Array {
  const count = encoded.length;
  assert(count >= 1 && count <= 0xffff, `batch of ${count} messages is out of range`);
  let size = batchOverheadBytes(count);
  for (const m of encoded) size += m.length;
  const out = new Uint8Array(size);
  out.set(BATCH_PREFIX, 0);
  let off = BATCH_PREFIX.length;
  if (count < 16) {
    out[off++] = 0x90 | count;
  } else {
    out[off++] = 0xdc;
    out[off++] = count >>> 8;
    out[off++] = count & 0xff;
  }
  for (const m of encoded) {
    out.set(m, off);
    off += m.length;
  }
  return out;
}
