import { isIP } from 'node:net';
import { CairnError } from '../core/index.js';
import type { Address } from './types.js';

/** Longest address string accepted anywhere (a bracketed IPv6 host with zone and port fits easily). */
export const MAX_ADDRESS_LENGTH = 300;

/** A parsed {@link Address}. */
export interface HostPort {
  /** The host without brackets: an IPv4 address, an IPv6 address or a DNS name. */
  readonly host: string;
  /** The port, 0..65535. */
  readonly port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses `host:port` or `[v6]:port`; returns `undefined` for anything malformed (never throws), so
 * it can be used on untrusted input such as a hello frame.
 *
 * @param text - the address
 * @param allowZeroPort - accept port 0 (binding an ephemeral port); default false
 */
export function tryParseAddress(text: string, allowZeroPort = false): HostPort | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) return undefined;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZeroPort)) return undefined;
  return { host, port };
}

/**
 * Parses an address, throwing `INVALID_ARGUMENT` with the offending text when it is malformed.
 *
 * @example
 * ```ts
 * parseAddress('127.0.0.1:7946'); // { host: '127.0.0.1', port: 7946 }
 * parseAddress('[::1]:7946');     // { host: '::1', port: 7946 }
 * ```
 */
export function parseAddress(text: string, allowZeroPort = false): HostPort {
  const parsed = tryParseAddress(text, allowZeroPort);
  if (parsed === undefined) {
    throw new CairnError('INVALID_ARGUMENT', `"${String(text).slice(0, 80)}" is not a host:port address`);
  }
  return parsed;
}

/** Formats a host and port as an {@link Address}, bracketing IPv6 hosts. */
export function formatAddress(host: string, port: number): Address {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
