/**
 * RFC 4648 base32, lower case, without padding: the text form of node ids.
 *
 * Base32 survives every place an id ends up: DNS labels and mDNS names (case-insensitive,
 * letters and digits only), file names on case-insensitive file systems, URLs and YAML. Decoding
 * is strict: upper case, padding, stray characters and non-zero trailing bits are rejected, so
 * every byte string has exactly one text form and two spellings can never name one key.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/** The base32 text of `bytes`. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The bytes of canonical base32 `text`, or `undefined` when `text` is not canonical base32. */
export function base32Decode(text: string): Uint8Array | undefined {
  const length = Math.floor((text.length * 5) / 8);
  // A length of 1, 3 or 6 mod 8 cannot come from whole bytes.
  if (base32Length(length) !== text.length) return undefined;
  const out = new Uint8Array(length);
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? VALUES[code]! : -1;
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >>> bits) & 0xff;
    }
  }
  // Leftover bits are padding; a canonical encoding leaves them zero.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

/**
 * True when {@link base32Decode} would accept `text`, without building the bytes (node ids are
 * checked in every decoded message; decoding each one allocated a 32-byte array).
 */
export function isCanonicalBase32(text: string): boolean {
  const length = Math.floor((text.length * 5) / 8);
  if (base32Length(length) !== text.length) return false;
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? VALUES[code]! : -1;
    if (value < 0) return false;
    last = value;
  }
  // The bits left over after the last whole byte are the low bits of the last character; a
  // canonical encoding leaves them zero.
  const spare = (text.length * 5) % 8;
  return (last & ((1 << spare) - 1)) === 0;
}

/** Characters in the base32 text of `byteLength` bytes. */
export function base32Length(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5);
}
