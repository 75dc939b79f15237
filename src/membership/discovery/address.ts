import { isIP } from 'node:net';
import { CairnError } from '../../core/index.js';
import { formatAddress, tryParseAddress } from '../../transport/address.js';

/**
 * Seed addresses: `host:port` with a port of 1-65535, where host is an IPv4 address, a DNS name,
 * or a bracketed IPv6 address (`[::1]:7946`). Addresses are normalised so that one node has one
 * spelling: DNS names lower-cased without a trailing dot, IPv6 lower-cased and bracketed.
 */

/**
 * The canonical form of an address, or `undefined` when it is malformed. Never throws, so it can be
 * applied to untrusted input (DNS answers, mDNS packets, files).
 *
 * @example
 * ```ts
 * normalizeAddress('Node-1.Example.com.:7946'); // 'node-1.example.com:7946'
 * normalizeAddress('[::1]:7946');               // '[::1]:7946'
 * normalizeAddress('::1:7946');                 // undefined (IPv6 must be bracketed)
 * ```
 */
export function normalizeAddress(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const parsed = tryParseAddress(text.trim());
  if (parsed === undefined) return undefined;
  return formatAddress(parsed.host.toLowerCase(), parsed.port);
}

/**
 * The canonical form of an address given in configuration.
 *
 * @throws CairnError `INVALID_ARGUMENT` quoting the bad address
 */
export function parseSeedAddress(text: unknown, where = 'seed address'): string {
  const address = normalizeAddress(text);
  if (address === undefined) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `${where} "${String(text).slice(0, 80)}" is not host:port (port 1-65535, IPv6 in brackets)`,
    );
  }
  return address;
}

/**
 * Formats a host from a DNS record and a port as a canonical address, or `undefined` when either
 * is malformed. A trailing dot of a fully qualified name is dropped.
 */
export function addressOf(host: unknown, port: unknown): string | undefined {
  if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) return undefined;
  if (port < 1 || port > 65535) return undefined;
  const bare = host.endsWith('.') ? host.slice(0, -1) : host;
  if (bare.length === 0) return undefined;
  return normalizeAddress(formatAddress(bare, port));
}

/** True when `host` is an IP address of the given family (4 or 6). */
export function isIpOf(host: unknown, family: 4 | 6): host is string {
  return typeof host === 'string' && isIP(host) === family;
}

/** Order-sensitive equality of two address lists. */
export function sameAddresses(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
