import { encode, fail, tryDecode, type Validator, v } from '../../core/index.js';
import { tryParseAddress } from '../../transport/address.js';
import { DEFAULT_LIMITS, type PexLimits } from './limits.js';

/**
 * Wire messages of the peer sampling service.
 *
 * Two messages, named after the paper's push-pull exchange: the active node sends a `PexPush`
 * carrying its buffer (its own fresh descriptor first, then up to c/2-1 from its view); the
 * passive node answers with a `PexPull` carrying its own buffer and echoing the exchange id.
 *
 * Encoding: a MessagePack map `{ type, id, entries }`; each entry is a compact array
 * `[address, age]` or `[address, age, id]`. Decoding validates everything (bounded arrays and
 * strings, address syntax, age range) and never throws: {@link decodePexMessage} returns
 * `undefined` for a malformed message, which the caller counts and drops.
 */

/** A node descriptor: an address, an optional node id, and its age in cycles. */
export interface PexDescriptor {
  /** Transport address, `host:port`. */
  readonly address: string;
  /** Node id, when the layer above attaches one; opaque to PeX. */
  readonly id?: string;
  /** Cycles since the described node created this descriptor (0 = fresh). */
  readonly age: number;
}

/** The active side's request: its buffer. */
export interface PexPush {
  readonly type: 'PexPush';
  /** Exchange id chosen by the active side, echoed in the reply. 0..2^32-1. */
  readonly id: number;
  readonly entries: readonly PexDescriptor[];
}

/** The passive side's reply: its buffer. */
export interface PexPull {
  readonly type: 'PexPull';
  /** The id of the PexPush this answers. */
  readonly id: number;
  readonly entries: readonly PexDescriptor[];
}

/** Every PeX message. */
export type PexMessage = PexPush | PexPull;

/** Largest exchange id: ids are 32-bit so they always encode in at most 5 bytes. */
export const MAX_EXCHANGE_ID = 0xffff_ffff;

/**
 * True when `text` is a syntactically valid `host:port` address within `maxLength` characters.
 *
 * @param text - the candidate address
 * @param maxLength - the longest accepted (default `DEFAULT_LIMITS.maxAddressLength`)
 */
export function isPexAddress(text: unknown, maxLength: number = DEFAULT_LIMITS.maxAddressLength): boolean {
  return typeof text === 'string' && text.length <= maxLength && tryParseAddress(text) !== undefined;
}

type WireEntry = [string, number] | [string, number, string];

function toWire(d: PexDescriptor): WireEntry {
  return d.id === undefined ? [d.address, d.age] : [d.address, d.age, d.id];
}

/**
 * Checks one wire entry. Note that `v.array` returns the array it checked, not the items'
 * results, so this validator checks a tuple and returns it unchanged; {@link fromWire} converts.
 */
function entryValidator(limits: PexLimits): Validator<WireEntry> {
  const age = v.uint({ max: limits.maxAge });
  const id = v.string({ minLength: 1, maxLength: limits.maxIdLength });
  return (value, path = '$') => {
    if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3)) {
      fail(path, 'an [address, age] or [address, age, id] array', value);
    }
    if (!isPexAddress(value[0], limits.maxAddressLength)) fail(`${path}[0]`, 'a host:port address', value[0]);
    age(value[1], `${path}[1]`);
    if (value.length === 3) id(value[2], `${path}[2]`);
    return value as WireEntry;
  };
}

function fromWire(e: WireEntry): PexDescriptor {
  return e.length === 2 ? { address: e[0], age: e[1] } : { address: e[0], age: e[1], id: e[2] };
}

interface WireMessage {
  type: 'PexPush' | 'PexPull';
  id: number;
  entries: WireEntry[];
}

function wireValidator(limits: PexLimits): Validator<WireMessage> {
  const entries = v.array(entryValidator(limits), { maxLength: limits.maxBufferEntries });
  const id = v.uint({ max: MAX_EXCHANGE_ID });
  return v.object({ type: v.oneOf(['PexPush', 'PexPull']), id, entries });
}

/**
 * The validator for PeX messages under `limits`: checks the wire form and returns the typed
 * message with descriptor objects.
 *
 * @param limits - the limits in force (default {@link DEFAULT_LIMITS})
 */
export function pexMessageValidator(limits: PexLimits = DEFAULT_LIMITS): Validator<PexMessage> {
  const wire = wireValidator(limits);
  return (value, path = '$') => {
    const m = wire(value, path);
    return { type: m.type, id: m.id, entries: m.entries.map(fromWire) };
  };
}

const defaultValidator = pexMessageValidator();

/**
 * Encodes a PeX message.
 *
 * @param message - the message; its entries must already satisfy the limits
 */
export function encodePexMessage(message: PexMessage): Uint8Array {
  return encode({ type: message.type, id: message.id, entries: message.entries.map(toWire) });
}

/**
 * Decodes and validates a PeX message; `undefined` when the bytes are malformed, oversized
 * (over `limits.maxBufferBytes`) or violate a limit. Never throws.
 *
 * @param bytes - the packet payload
 * @param limits - the limits in force (default {@link DEFAULT_LIMITS})
 */
export function decodePexMessage(
  bytes: Uint8Array,
  limits: PexLimits = DEFAULT_LIMITS,
): PexMessage | undefined {
  const validate = limits === DEFAULT_LIMITS ? defaultValidator : pexMessageValidator(limits);
  return tryDecode(bytes, validate, limits.maxBufferBytes);
}

/** MessagePack size of a string: header (fixstr, str8, str16, str32) plus UTF-8 bytes. */
function stringWireBytes(text: string): number {
  const n = Buffer.byteLength(text, 'utf8');
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

/** MessagePack size of a non-negative integer (positive fixint, uint8/16/32/64). */
function uintWireBytes(x: number): number {
  return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : x < 0x1_0000_0000 ? 5 : 9;
}

/**
 * Encoded size of one descriptor inside a message's entry array, in bytes, computed without
 * encoding (the buffer is filled on every exchange). Equal to `encode([address, age, id?])`'s
 * length; a property test checks that against the codec.
 */
export function descriptorWireBytes(d: PexDescriptor): number {
  return (
    1 + stringWireBytes(d.address) + uintWireBytes(d.age) + (d.id === undefined ? 0 : stringWireBytes(d.id))
  );
}

/**
 * Upper bound on the bytes of a message minus its entries: the map, the type and the largest
 * id, and an array header of 3 bytes (array16, enough for any `maxBufferEntries` below 65536).
 */
export const MESSAGE_OVERHEAD_BYTES: number =
  encode({ type: 'PexPush', id: MAX_EXCHANGE_ID, entries: [] }).length + 2;
