import type { Clock } from '../../core/clock.js';
import { isCairnError } from '../../core/errors.js';
import { parseToken, type Token, tokenExpiry, verifyToken } from '../../security/token.js';

/**
 * Who may do what through the Redis protocol, decided from a Cairn capability token.
 *
 * A client sends the token's text as the password: `AUTH <token>`, `AUTH <any user> <token>` or
 * `HELLO 3 AUTH <any user> <token>`. AUTH checks the token is genuine for this front end
 * (signature, revocation, expiry, audience `resp`) and the connection keeps it; every later command
 * is checked against it here:
 *
 * - operations: `kv:read` (GET, MGET, EXISTS, TTL, PTTL, SCAN, DBSIZE, CAIRN RING) and `kv:write`
 *   (SET, MSET, DEL, EXPIRE, PEXPIRE, PERSIST; SET ... GET, KEEPTTL and the expiry commands read
 *   first, so they need `kv:read` too). Names are exact: a token limited to `kv:write` cannot read.
 * - prefixes: a key is inside a `prefix` caveat when its bytes start with the prefix's UTF-8 bytes.
 *   SCAN and DBSIZE name no key: a prefix token may run them (SCAN then returns only keys under its
 *   prefixes), because they are checked with the longest prefix as their key, like the etcd front
 *   end's keyless calls.
 * - connection commands (PING, ECHO, CLIENT, COMMAND, INFO, CONFIG GET, SELECT, CAIRN
 *   CONSISTENCY) need a genuine token and no operation.
 *
 * Refusals: no token yet `-NOAUTH Authentication required.`; AUTH with a token that is malformed,
 * forged, revoked, expired or for another audience `-WRONGPASS ...` (Redis's text); a genuine token
 * that does not allow a command, or that expired or was revoked since AUTH, `-NOPERM <why>`.
 */

/** How tokens are checked; `serveResp`'s `auth` option (the same shape as the etcd front end's). */
export interface RespAuthOptions {
  /** The cluster's token root keys (each tried, for rotation), or a lookup by token id. */
  readonly rootKeys: readonly Uint8Array[] | ((id: string) => Uint8Array | undefined);
  /** Revocation check by token id; default none revoked. */
  readonly isRevoked?: (id: string) => boolean;
  /** Time for expiry caveats. */
  readonly clock: Clock;
}

/** The operation names a token's `ops` caveat may list for the store. */
export type KvOp = 'kv:read' | 'kv:write';

/** The audience caveat value of this front end. */
export const RESP_AUDIENCE = 'resp';

/** A token a connection authenticated with: parsed once, checked on every command. */
export interface Credential {
  readonly token: Token;
  /** Its prefix caveats as bytes; empty when it may touch every key. */
  readonly prefixes: readonly Uint8Array[];
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** Checks tokens against commands; see the module comment. */
export class RespAuthorizer {
  constructor(private readonly options: RespAuthOptions) {}

  /**
   * AUTH: the credential for `password`, or undefined when it is not a genuine token for this
   * front end. A token that is genuine but narrowed (ops, prefix) authenticates; the per-command
   * checks narrow what it may do.
   */
  authenticate(password: string): Credential | undefined {
    let token: Token;
    try {
      token = parseToken(password);
      verifyToken(token, {
        ...this.base(),
        request: { nowMs: this.options.clock.now(), audience: RESP_AUDIENCE },
      });
    } catch (err) {
      if (!isCairnError(err)) throw err;
      const narrowed = isCairnError(err, 'TOKEN_DENIED') && err.details?.caveat !== 'audience';
      if (!narrowed) return undefined;
      token = parseToken(password);
    }
    const prefixes = token.caveats.flatMap((c) =>
      c.type === 'prefix' ? [Buffer.from(c.prefix, 'utf8')] : [],
    );
    return { token, prefixes };
  }

  /**
   * Why `credential` may not do `op` on each of `keys` (or, with `keys` undefined, on no key), or
   * undefined when it may. `op` undefined checks only that the token is still valid.
   */
  denial(
    credential: Credential,
    op: KvOp | undefined,
    keys: readonly Uint8Array[] | undefined,
  ): string | undefined {
    const nowMs = this.options.clock.now();
    if (op === undefined) return this.stillValid(credential.token, nowMs);
    const request = { nowMs, op, audience: RESP_AUDIENCE };
    if (keys === undefined) {
      // Keyless: present the longest prefix, inside all of them when they are nested.
      const prefixes = credential.prefixes;
      const longest =
        prefixes.length === 0 ? undefined : prefixes.reduce((a, b) => (b.length > a.length ? b : a));
      return this.verify(
        credential.token,
        longest === undefined ? request : { ...request, key: utf8.decode(longest) },
      );
    }
    for (const key of keys) {
      const reason = this.verify(credential.token, { ...request, key: utf8.decode(key) });
      if (reason !== undefined) return reason;
      // The caveat check compares text; a key that is not valid UTF-8 is checked on its bytes too.
      for (const p of credential.prefixes)
        if (!startsWith(key, p)) return `key is not under the prefix "${utf8.decode(p)}"`;
    }
    return undefined;
  }

  /** Whether `key` is inside every prefix of `credential` (SCAN filters its pages with this). */
  allowsKey(credential: Credential, key: Uint8Array): boolean {
    for (const p of credential.prefixes) if (!startsWith(key, p)) return false;
    return true;
  }

  /**
   * A command that touches no data needs a token that is still valid (not expired, not revoked);
   * its signature was checked at AUTH and its caveats name data, which such a command does not touch.
   */
  private stillValid(token: Token, nowMs: number): string | undefined {
    if (this.options.isRevoked?.(token.id) === true) return `token ${token.id} has been revoked`;
    const expiresAt = tokenExpiry(token.caveats);
    if (expiresAt !== undefined && !(nowMs < expiresAt)) return `token ${token.id} has expired`;
    return undefined;
  }

  private verify(token: Token, request: Parameters<typeof verifyToken>[1]['request']): string | undefined {
    try {
      verifyToken(token, { ...this.base(), request });
      return undefined;
    } catch (err) {
      if (!isCairnError(err)) throw err;
      return err.message;
    }
  }

  private base() {
    return this.options.isRevoked === undefined
      ? { rootKeys: this.options.rootKeys }
      : { rootKeys: this.options.rootKeys, isRevoked: this.options.isRevoked };
  }
}
