import { utf8 } from '../../core/index.js';
import { tryParseAddress } from '../address.js';
import type { Address } from '../types.js';

/** Version byte of the hello frame; a receiver rejects any other. */
export const HELLO_VERSION = 1;

/**
 * The hello frame a dialer sends first on every connection: `0x01 || utf8(advertised address)`.
 *
 * It tells the acceptor the dialer's transport address (where its listener is), so an inbound
 * stream's `remoteAddress` names the peer rather than its ephemeral source port. The hello is not
 * authenticated: with sealing, frames are authenticated but the address in the hello is a claim.
 */
export function encodeHello(address: Address): Uint8Array {
  const text = utf8(address);
  const out = new Uint8Array(1 + text.length);
  out[0] = HELLO_VERSION;
  out.set(text, 1);
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a hello frame; `undefined` for a wrong version, invalid UTF-8 or an address that is not
 * a valid `host:port` with a non-zero port. Never throws.
 */
export function decodeHello(frame: Uint8Array): Address | undefined {
  if (frame.length < 2 || frame[0] !== HELLO_VERSION) return undefined;
  let text: string;
  try {
    text = decoder.decode(frame.subarray(1));
  } catch {
    return undefined;
  }
  return tryParseAddress(text) === undefined ? undefined : text;
}
