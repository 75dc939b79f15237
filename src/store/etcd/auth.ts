import type { Clock } from '../../core/clock.js';
import { isCairnError } from '../../core/errors.js';
import { parseToken, verifyToken } from '../../security/token.js';
import { StoreError } from '../errors.js';

/**
 * Who may do what through the etcd API, decided from a Cairn capability token.
 *
 * etcd clients authenticate with `Auth.Authenticate(name, password)` and then send the returned
 * token in the gRPC metadata key `token`. Cairn keeps that flow: the password is a capability
 * token's text, Authenticate checks it is genuine (signature, revocation, expiry, audience) and
 * hands the same text back as the etcd token. Every call then carries it and is checked here:
 *
 * - operations: `store:read` (Range, Watch, LeaseTimeToLive, LeaseLeases, Status, MemberList),
 *   `store:write` (Put, DeleteRange, LeaseGrant/Revoke/KeepAlive; a put or delete asking for
 *   prev_kv needs `store:read` too), `store:admin` (Compact, member changes). Names are exact:
 *   a token limited to `store:write` cannot read. A txn needs what each of its ops and compares
 *   needs.
 * - prefixes: a key is inside a `prefix` caveat when its bytes start with the prefix's UTF-8
 *   bytes; a range [key, end) is inside only when both ends are (end at most the prefix's etcd
 *   range end), so `get --prefix` of the prefix itself is allowed and "every key" is not.
 * - keyless calls (Status, MemberList, leases) reveal or touch no key: a prefix token may make
 *   them when its prefixes are consistent. Admin calls affect every key: a prefix token never may.
 *
 * Refusals are etcd's: no token `userEmpty`, a token that is malformed, forged, revoked or
 * expired `invalidAuthToken` (clients re-authenticate on it), a genuine token that does not allow
 * the call `permissionDenied`.
 */

/** How tokens are checked; `serveEtcd`'s `auth` option. */
export interface EtcdAuthOptions {
  /** The cluster's token root keys (each tried, for rotation), or a lookup by token id. */
  readonly rootKeys: readonly Uint8Array[] | ((id: string) => Uint8Array | undefined);
  /** Revocation check by token id; default none revoked. */
  readonly isRevoked?: (id: string) => boolean;
  /** Time for expiry caveats. */
  readonly clock: Clock;
}

/** The operation names a token's `ops` caveat may list for the store. */
export type StoreOp = 'store:read' | 'store:write' | 'store:admin';

/** One thing a call does: an operation on a key, a key range, or on no key. */
export type Access =
  | { readonly op: StoreOp; readonly key: Uint8Array; readonly rangeEnd?: Uint8Array | undefined }
  | { readonly op: StoreOp; readonly keyless: true };

/** The audience caveat value of this front end. */
export const ETCD_AUDIENCE = 'etcd';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** etcd's range end for "every key starting with `prefix`" (`\0` when there is none). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Uint8Array.of(0);
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function isAllKeys(end: Uint8Array): boolean {
  return end.length === 1 && end[0] === 0;
}

/** Whether [key, rangeEnd) lies inside `prefix` (bytes). */
export function rangeInsidePrefix(
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  prefix: Uint8Array,
): boolean {
  if (prefix.length === 0) return true;
  if (!startsWith(key, prefix)) return false;
  if (rangeEnd === undefined || rangeEnd.length === 0) return true;
  if (isAllKeys(rangeEnd)) return false;
  const limit = prefixRangeEnd(prefix);
  return isAllKeys(limit) || Buffer.compare(rangeEnd, limit) <= 0;
}

function tokenDenial(err: unknown): StoreError {
  if (isCairnError(err, 'TOKEN_DENIED')) return new StoreError('permissionDenied', undefined, { cause: err });
  if (isCairnError(err)) return new StoreError('invalidAuthToken', undefined, { cause: err });
  throw err;
}

/** Checks tokens against calls; see the module comment. */
export class EtcdAuthorizer {
  constructor(private readonly options: EtcdAuthOptions) {}

  /**
   * etcd's Authenticate: `password` is a capability token's text; any name. Answers the token to
   * send with every later call (the same text).
   *
   * @throws StoreError `authFailed` when the token is not genuine for this front end
   */
  authenticate(password: string): string {
    try {
      verifyToken(password, {
        ...this.base(),
        request: { nowMs: this.options.clock.now(), audience: ETCD_AUDIENCE },
      });
    } catch (err) {
      // A denial by an ops or prefix caveat still proves the token genuine; per-call checks follow.
      const denied = isCairnError(err, 'TOKEN_DENIED') && err.details?.caveat !== 'audience';
      if (!denied) {
        if (!isCairnError(err)) throw err;
        throw new StoreError('authFailed', undefined, { cause: err });
      }
    }
    return password;
  }

  private base() {
    return this.options.isRevoked === undefined
      ? { rootKeys: this.options.rootKeys }
      : { rootKeys: this.options.rootKeys, isRevoked: this.options.isRevoked };
  }

  /**
   * Checks that `token` allows every access.
   *
   * @throws StoreError `userEmpty`, `invalidAuthToken` or `permissionDenied`
   */
  authorize(token: string | undefined, accesses: readonly Access[]): void {
    if (token === undefined || token === '') throw new StoreError('userEmpty');
    let prefixes: Uint8Array[];
    try {
      prefixes = parseToken(token)
        .caveats.filter((c) => c.type === 'prefix')
        .map((c) => Buffer.from(c.prefix, 'utf8'));
    } catch (err) {
      throw tokenDenial(err);
    }
    for (const access of accesses) this.check(token, access, prefixes);
  }

  private check(token: string, access: Access, prefixes: readonly Uint8Array[]): void {
    const nowMs = this.options.clock.now();
    let key: string | undefined;
    if ('keyless' in access) {
      // Admin calls name no key, so every prefix caveat denies them (fail closed). Other keyless
      // calls present the longest prefix, which is inside all of them when they are nested.
      if (access.op !== 'store:admin' && prefixes.length > 0) {
        const longest = prefixes.reduce((a, b) => (b.length > a.length ? b : a));
        key = utf8.decode(longest);
      }
    } else key = utf8.decode(access.key);
    try {
      verifyToken(token, {
        ...this.base(),
        request: { nowMs, op: access.op, audience: ETCD_AUDIENCE, ...(key === undefined ? {} : { key }) },
      });
    } catch (err) {
      throw tokenDenial(err);
    }
    // The caveat check above compares text; the bytes and the range's far end are checked here.
    if (!('keyless' in access))
      for (const p of prefixes)
        if (!rangeInsidePrefix(access.key, access.rangeEnd, p)) throw new StoreError('permissionDenied');
  }
}
