import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromHex, toHex } from '../core/bytes.js';
import { CairnError } from '../core/errors.js';
import {
  type Caveat,
  caveatDenial,
  decodeCaveat,
  encodeCaveat,
  formatTime,
  malformed,
  Reader,
  type TokenRequest,
} from './caveats.js';
import { DEFAULT_LIMITS } from './limits.js';

/**
 * Capability tokens: macaroon-style HMAC chains over node:crypto HMAC-SHA256.
 *
 * ```
 * sig0 = HMAC(rootKey, "cairn-token-v1" 0x00 | id (16 bytes) | str location)
 * sigN = HMAC(sigN-1, canonical bytes of caveat N)          token.signature = sig after the last
 * ```
 *
 * Whoever holds a token can *attenuate* it offline: append a caveat and replace the signature by
 * `HMAC(signature, caveat)`. Going back would mean inverting HMAC, so caveats cannot be removed,
 * reordered or changed, and the id and location are fixed. Whoever holds the root key (every node
 * of the cluster) verifies by recomputing the chain. Attenuations keep their root's id, so
 * revoking an id revokes the whole family.
 *
 * Text form: `cairn1.` then unpadded base64url of
 * `u8 version (1) | id (16) | str location | u8 caveat count | (u16 length | caveat)... | signature (32)`
 * (`str` is a u16 byte length and UTF-8). It fits an HTTP header, a RESP `AUTH` argument and gRPC
 * metadata, and the prefix lets secret scanners spot leaked tokens.
 *
 * The token limits (`maxTokenChars`, `maxCaveats`, ...) are part of the format: every node must
 * accept what any node mints, so they are not overridable per node.
 */

/** A token, decoded. The signature is a bearer secret: never log it, or the token's text. */
export interface Token {
  /** The token id, 32 hex digits, shared by every attenuation of one minted token. */
  readonly id: string;
  /** Where the token is meant to be used (a hint such as a cluster URL); signed, so fixed. */
  readonly location?: string;
  /** The caveats, in the order they were added. */
  readonly caveats: readonly Caveat[];
  /** The 32-byte chain value. */
  readonly signature: Uint8Array;
}

/** Options for {@link mintToken}. */
export interface MintTokenOptions {
  /** The token id, 32 hex digits; default 16 random bytes from the OS (the simulator passes its own). */
  id?: string;
  /** Caveats to start with; default none, a token that allows everything. */
  caveats?: readonly Caveat[];
  /** Where the token is meant to be used; default none (`''` means none too). */
  location?: string;
}

/** Where {@link verifyToken} finds root keys and what it checks. */
export interface VerifyTokenOptions {
  /** The cluster's root keys (each tried in turn, for rotation), or a lookup by token id. */
  rootKeys: readonly Uint8Array[] | ((id: string) => Uint8Array | undefined);
  /** The request the token must allow. */
  request: TokenRequest;
  /** Revocation check by token id, e.g. `revocations.isRevoked`; default none revoked. */
  isRevoked?: (id: string) => boolean;
}

/** A token that verified, for the caller's audit record. */
export interface VerifiedToken {
  readonly id: string;
  readonly location: string | undefined;
  readonly caveats: readonly Caveat[];
  /** The earliest `expires` caveat, or `undefined` when the token never expires. */
  readonly expiresAtMs: number | undefined;
}

/** The text every token starts with. */
export const TOKEN_PREFIX = 'cairn1.';
/** Bytes of a token id. */
export const TOKEN_ID_BYTES = 16;
/** Bytes of a token's signature. */
export const TOKEN_SIGNATURE_BYTES = 32;
/** Fewest bytes in a root key. */
export const MIN_ROOT_KEY_BYTES = 32;

const FORMAT_VERSION = 1;
const CHAIN_TAG = Buffer.from('cairn-token-v1\0', 'latin1');
const ID_PATTERN = /^[0-9a-f]{32}$/;
const LIMITS = DEFAULT_LIMITS;

function str(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const head = Buffer.allocUnsafe(2);
  head.writeUInt16BE(bytes.length, 0);
  return Buffer.concat([head, bytes]);
}

/** Checks a token's fields (not its signature) and returns each caveat's canonical bytes. */
function checkedCaveatBytes(token: Token): Uint8Array[] {
  if (typeof token.id !== 'string' || !ID_PATTERN.test(token.id))
    throw malformed('its id is not 32 hex digits');
  if (token.location !== undefined) {
    if (
      typeof token.location !== 'string' ||
      token.location.length > LIMITS.maxNameChars ||
      /\p{Cc}/u.test(token.location)
    ) {
      throw malformed(`its location is not printable text of at most ${LIMITS.maxNameChars} characters`);
    }
  }
  if (!(token.signature instanceof Uint8Array) || token.signature.length !== TOKEN_SIGNATURE_BYTES) {
    throw malformed(`its signature is not ${TOKEN_SIGNATURE_BYTES} bytes`);
  }
  if (!Array.isArray(token.caveats) || token.caveats.length > LIMITS.maxCaveats) {
    throw malformed(`it has more than maxCaveats=${LIMITS.maxCaveats} caveats`);
  }
  return token.caveats.map((c) => encodeCaveat(c, LIMITS));
}

function chainStart(rootKey: Uint8Array, id: string, location: string | undefined): Buffer {
  return createHmac('sha256', rootKey)
    .update(CHAIN_TAG)
    .update(fromHex(id)!)
    .update(str(location ?? ''))
    .digest();
}

function chain(start: Uint8Array, caveatBytes: readonly Uint8Array[]): Uint8Array {
  let sig = start;
  for (const bytes of caveatBytes) sig = createHmac('sha256', sig).update(bytes).digest();
  // A plain Uint8Array, as parseToken gives, so that minted and parsed tokens compare equal.
  return new Uint8Array(sig);
}

function checkRootKey(rootKey: Uint8Array): void {
  if (!(rootKey instanceof Uint8Array) || rootKey.length < MIN_ROOT_KEY_BYTES) {
    throw new CairnError('INVALID_ARGUMENT', `a token root key has at least ${MIN_ROOT_KEY_BYTES} bytes`);
  }
}

/**
 * Mints a root token.
 *
 * @param rootKey - the cluster's token root key (at least 32 bytes; see `generateKey`)
 * @throws CairnError `INVALID_ARGUMENT` for a short root key, `TOKEN_MALFORMED` for an id,
 *   location or caveat no verifier would accept
 * @example
 * ```ts
 * const token = mintToken(rootKey, { caveats: [{ type: 'expires', atMs: now + 86_400_000 }] });
 * const text = formatToken(token); // give this to the client
 * ```
 */
export function mintToken(rootKey: Uint8Array, options: MintTokenOptions = {}): Token {
  checkRootKey(rootKey);
  const id = options.id ?? toHex(randomBytes(TOKEN_ID_BYTES));
  // An empty location is no location: the text form cannot tell them apart.
  const location = options.location === '' ? undefined : options.location;
  const fixed = { id, ...(location === undefined ? {} : { location }) };
  const draft: Token = {
    ...fixed,
    caveats: [...(options.caveats ?? [])],
    signature: new Uint8Array(TOKEN_SIGNATURE_BYTES),
  };
  const caveatBytes = checkedCaveatBytes(draft);
  return { ...draft, signature: chain(chainStart(rootKey, id, location), caveatBytes) };
}

/**
 * Adds caveats, offline: no root key is needed, and the result allows at most what `token` allowed.
 *
 * @throws CairnError `TOKEN_MALFORMED` for a malformed token or a caveat no verifier would accept
 *   (including going over `maxCaveats`)
 * @example
 * ```ts
 * const readOnly = attenuate(token, [{ type: 'ops', ops: ['kv:read'] }, { type: 'prefix', prefix: 'app1/' }]);
 * ```
 */
export function attenuate(token: Token, caveats: readonly Caveat[]): Token {
  checkedCaveatBytes(token);
  const all = [...token.caveats, ...caveats];
  if (all.length > LIMITS.maxCaveats) {
    throw malformed(`${all.length} caveats is over the limit maxCaveats=${LIMITS.maxCaveats}`);
  }
  const added = caveats.map((c) => encodeCaveat(c, LIMITS));
  return { ...token, caveats: all, signature: chain(token.signature, added) };
}

/** The text form of a token (see the module comment). @throws CairnError `TOKEN_MALFORMED` */
export function formatToken(token: Token): string {
  const caveatBytes = checkedCaveatBytes(token);
  const parts: Uint8Array[] = [Uint8Array.of(FORMAT_VERSION), fromHex(token.id)!, str(token.location ?? '')];
  parts.push(Uint8Array.of(caveatBytes.length));
  for (const bytes of caveatBytes) parts.push(Uint8Array.of(bytes.length >>> 8, bytes.length & 0xff), bytes);
  parts.push(token.signature);
  return TOKEN_PREFIX + Buffer.concat(parts).toString('base64url');
}

/**
 * Decodes a token's text, strictly, without verifying it: for `verifyToken` and for inspecting a
 * token (`cairn token inspect`). Nothing in the result is trustworthy until verified.
 *
 * @throws CairnError `TOKEN_MALFORMED`
 */
export function parseToken(text: string): Token {
  if (typeof text !== 'string') throw malformed('it is not text');
  if (text.length > LIMITS.maxTokenChars) {
    throw malformed(`${text.length} characters is over the limit maxTokenChars=${LIMITS.maxTokenChars}`);
  }
  if (!text.startsWith(TOKEN_PREFIX)) throw malformed(`it does not start with "${TOKEN_PREFIX}"`);
  const body = text.slice(TOKEN_PREFIX.length);
  const bytes = Buffer.from(body, 'base64url');
  // Node's decoder skips stray characters; accept only the one canonical spelling.
  if (!/^[A-Za-z0-9_-]*$/.test(body) || bytes.toString('base64url') !== body)
    throw malformed('it is not base64url');
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw malformed(`format version ${version} is unknown`);
  const id = toHex(r.take(TOKEN_ID_BYTES));
  const location = r.str();
  const count = r.u8();
  if (count > LIMITS.maxCaveats)
    throw malformed(`${count} caveats is over the limit maxCaveats=${LIMITS.maxCaveats}`);
  const caveats: Caveat[] = [];
  for (let i = 0; i < count; i++) caveats.push(decodeCaveat(r.take(r.u16()), LIMITS));
  const signature = new Uint8Array(r.take(TOKEN_SIGNATURE_BYTES));
  if (!r.done) throw malformed('it has bytes after the signature');
  const token: Token = { id, ...(location === '' ? {} : { location }), caveats, signature };
  // Checks the location as mint would, so that parse and format are inverses.
  checkedCaveatBytes(token);
  return token;
}

/** The earliest `expires` caveat of `caveats`, or `undefined`. */
export function tokenExpiry(caveats: readonly Caveat[]): number | undefined {
  let at: number | undefined;
  for (const c of caveats) if (c.type === 'expires' && (at === undefined || c.atMs < at)) at = c.atMs;
  return at;
}

function signatureMatches(token: Token, caveatBytes: readonly Uint8Array[], rootKey: Uint8Array): boolean {
  if (!(rootKey instanceof Uint8Array) || rootKey.length < MIN_ROOT_KEY_BYTES) return false;
  const expected = chain(chainStart(rootKey, token.id, token.location), caveatBytes);
  return timingSafeEqual(expected, token.signature);
}

/**
 * Verifies a token and checks that it allows `options.request`.
 *
 * Order of checks, each with its code: the form (`TOKEN_MALFORMED`), the signature chain under
 * one of the root keys (`TOKEN_INVALID`), revocation (`TOKEN_REVOKED`), expiry (`TOKEN_EXPIRED`),
 * then every other caveat (`TOKEN_DENIED`, with a message naming the caveat). Messages name the
 * token id, never its text or signature.
 *
 * @example
 * ```ts
 * const ok = verifyToken(text, {
 *   rootKeys: [rootKey],
 *   request: { nowMs: clock.now(), op: 'kv:read', key: 'app1/x', audience: 'resp' },
 *   isRevoked: revocations.isRevoked,
 * });
 * ```
 */
export function verifyToken(token: Token | string, options: VerifyTokenOptions): VerifiedToken {
  const parsed = typeof token === 'string' ? parseToken(token) : token;
  const caveatBytes = checkedCaveatBytes(parsed);
  const { rootKeys, request } = options;
  const candidates = typeof rootKeys === 'function' ? [rootKeys(parsed.id)] : rootKeys;
  let matched = false;
  // Every candidate is tried, so the time taken does not tell which key matched.
  for (const key of candidates)
    if (key !== undefined && signatureMatches(parsed, caveatBytes, key)) matched = true;
  if (!matched) {
    throw new CairnError(
      'TOKEN_INVALID',
      `token ${parsed.id} does not verify under any root key of this cluster`,
      {
        details: { tokenId: parsed.id },
      },
    );
  }
  if (options.isRevoked?.(parsed.id) === true) {
    throw new CairnError('TOKEN_REVOKED', `token ${parsed.id} has been revoked`, {
      details: { tokenId: parsed.id },
    });
  }
  const expiresAtMs = tokenExpiry(parsed.caveats);
  if (expiresAtMs !== undefined && !(request.nowMs < expiresAtMs)) {
    throw new CairnError('TOKEN_EXPIRED', `token ${parsed.id} expired at ${formatTime(expiresAtMs)}`, {
      details: { tokenId: parsed.id, expiresAtMs },
    });
  }
  for (const caveat of parsed.caveats) {
    const reason = caveatDenial(caveat, request);
    if (reason !== undefined) {
      throw new CairnError('TOKEN_DENIED', `token ${parsed.id} does not allow this request: ${reason}`, {
        details: { tokenId: parsed.id, caveat: caveat.type },
      });
    }
  }
  return { id: parsed.id, location: parsed.location, caveats: parsed.caveats, expiresAtMs };
}
