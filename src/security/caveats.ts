import { CairnError } from '../core/errors.js';
import type { SecurityLimits } from './limits.js';

/**
 * Caveats: the restrictions a capability token carries, and their canonical bytes.
 *
 * A token allows a request only when every caveat allows it, so adding a caveat can only take
 * rights away, and several caveats of one type intersect. A token without caveats allows
 * everything. Caveats fail closed: a caveat about a dimension the request does not name (a
 * `prefix` caveat and a request without a key) denies it.
 *
 * Canonical bytes (what the token's HMAC chain covers), big-endian:
 *
 * ```
 * prefix   = 0x01 | str
 * ops      = 0x02 | list        app = 0x03 | list      env = 0x04 | list
 * expires  = 0x05 | u64 atMs    audience = 0x06 | list
 * str      = u16 byte length | UTF-8 bytes
 * list     = u8 count (>= 1) | str...
 * ```
 *
 * The encoding is Cairn's own rather than MessagePack so that the bytes under a signature can
 * never change with a library's version.
 */

/** One restriction; see the module comment. */
export type Caveat =
  /** Only keys that start with `prefix`. */
  | { readonly type: 'prefix'; readonly prefix: string }
  /** Only these operations, by exact name (`kv:read`, `config:publish`). */
  | { readonly type: 'ops'; readonly ops: readonly string[] }
  /** Only these config apps. */
  | { readonly type: 'app'; readonly apps: readonly string[] }
  /** Only these config environments. */
  | { readonly type: 'env'; readonly envs: readonly string[] }
  /** Valid while `nowMs < atMs` (milliseconds since the Unix epoch). */
  | { readonly type: 'expires'; readonly atMs: number }
  /** Only at these front ends (`rest`, `resp`, `etcd`, `rpc`). */
  | { readonly type: 'audience'; readonly audiences: readonly string[] };

/** The type names of {@link Caveat}. */
export type CaveatType = Caveat['type'];

/**
 * What a request does, for checking against caveats. Only `nowMs` is required; every other field
 * a front end leaves out makes the caveats about it deny.
 */
export interface TokenRequest {
  /** The current time, ms since the epoch (from the node's Clock). */
  readonly nowMs: number;
  /** The operation, e.g. `kv:write`; each brick documents its own names. */
  readonly op?: string;
  /** The key the request reads or writes. */
  readonly key?: string;
  /** The config app the request touches. */
  readonly app?: string;
  /** The config environment the request touches. */
  readonly env?: string;
  /** The front end the request came through (`rest`, `resp`, `etcd`, `rpc`). */
  readonly audience?: string;
}

const TYPE_CODES: Record<CaveatType, number> = { prefix: 1, ops: 2, app: 3, env: 4, expires: 5, audience: 6 };
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The error for a token or caveat that no verifier would accept. */
export function malformed(reason: string, cause?: unknown): CairnError {
  return new CairnError(
    'TOKEN_MALFORMED',
    `not a valid Cairn token: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/** Appends canonical caveat bytes; every check a verifier makes is made here too. */
class Writer {
  readonly parts: Uint8Array[] = [];
  constructor(private readonly limits: SecurityLimits) {}

  u8(n: number): void {
    this.parts.push(Uint8Array.of(n));
  }

  /** Names (operations, apps, ...) are printable; a key prefix may hold any character. */
  str(text: string, what: string, maxChars: number, printable = true): void {
    if (text.length > maxChars)
      throw malformed(`${what} has ${text.length} characters, over the limit of ${maxChars}`);
    if (printable && /\p{Cc}/u.test(text)) throw malformed(`${what} contains control characters`);
    const bytes = Buffer.from(text, 'utf8');
    const head = Buffer.allocUnsafe(2);
    head.writeUInt16BE(bytes.length, 0);
    this.parts.push(head, bytes);
  }

  list(items: readonly string[], what: string): void {
    if (!Array.isArray(items) || items.length === 0 || items.length > this.limits.maxCaveatEntries) {
      throw malformed(`a ${what} caveat lists 1 to ${this.limits.maxCaveatEntries} names`);
    }
    this.u8(items.length);
    for (const item of items) {
      if (typeof item !== 'string' || item.length === 0)
        throw malformed(`a ${what} caveat lists non-empty names`);
      this.str(item, `a name in a ${what} caveat`, this.limits.maxNameChars);
    }
  }
}

/**
 * The canonical bytes of a caveat.
 *
 * @throws CairnError `TOKEN_MALFORMED` for a caveat no verifier would accept (unknown type, empty
 *   list, control characters, over a limit)
 */
export function encodeCaveat(caveat: Caveat, limits: SecurityLimits): Uint8Array {
  const w = new Writer(limits);
  const type =
    typeof caveat === 'object' && caveat !== null ? (caveat as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.hasOwn(TYPE_CODES, type)) {
    throw malformed(`unknown caveat type ${JSON.stringify(type)}`);
  }
  w.u8(TYPE_CODES[caveat.type]);
  switch (caveat.type) {
    case 'prefix':
      if (typeof caveat.prefix !== 'string') throw malformed('a prefix caveat holds a string');
      w.str(caveat.prefix, 'a key prefix', limits.maxCaveatBytes, false);
      break;
    case 'ops':
      w.list(caveat.ops, 'ops');
      break;
    case 'app':
      w.list(caveat.apps, 'app');
      break;
    case 'env':
      w.list(caveat.envs, 'env');
      break;
    case 'audience':
      w.list(caveat.audiences, 'audience');
      break;
    case 'expires': {
      if (!Number.isSafeInteger(caveat.atMs) || caveat.atMs < 0)
        throw malformed('an expires caveat holds ms >= 0');
      const at = Buffer.allocUnsafe(8);
      at.writeUInt32BE(Math.floor(caveat.atMs / 0x100000000), 0);
      at.writeUInt32BE(caveat.atMs >>> 0, 4);
      w.parts.push(at);
      break;
    }
  }
  const bytes = Buffer.concat(w.parts);
  if (bytes.length > limits.maxCaveatBytes) {
    throw malformed(
      `a ${caveat.type} caveat of ${bytes.length} bytes is over the limit maxCaveatBytes=${limits.maxCaveatBytes}`,
    );
  }
  return bytes;
}

/** Reads canonical bytes; every read is bounds-checked and throws `TOKEN_MALFORMED`. */
export class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw malformed('it ends early');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }

  str(): string {
    try {
      return decoder.decode(this.take(this.u16()));
    } catch (err) {
      if (err instanceof CairnError) throw err;
      throw malformed('it holds text that is not UTF-8');
    }
  }
}

function readList(r: Reader): string[] {
  const n = r.u8();
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.str());
  return out;
}

/**
 * A caveat from its canonical bytes. The bytes must be exactly what {@link encodeCaveat} makes
 * of the result, so that one caveat has one byte form.
 *
 * @throws CairnError `TOKEN_MALFORMED`
 */
export function decodeCaveat(bytes: Uint8Array, limits: SecurityLimits): Caveat {
  const r = new Reader(bytes);
  const code = r.u8();
  let caveat: Caveat;
  switch (code) {
    case 1:
      caveat = { type: 'prefix', prefix: r.str() };
      break;
    case 2:
      caveat = { type: 'ops', ops: readList(r) };
      break;
    case 3:
      caveat = { type: 'app', apps: readList(r) };
      break;
    case 4:
      caveat = { type: 'env', envs: readList(r) };
      break;
    case 5: {
      const b = Buffer.from(r.take(8));
      caveat = { type: 'expires', atMs: b.readUInt32BE(0) * 0x100000000 + b.readUInt32BE(4) };
      break;
    }
    case 6:
      caveat = { type: 'audience', audiences: readList(r) };
      break;
    default:
      throw malformed(`unknown caveat type code ${code}`);
  }
  if (!r.done || !Buffer.from(encodeCaveat(caveat, limits)).equals(bytes)) {
    throw malformed(`a ${caveat.type} caveat is not in canonical form`);
  }
  return caveat;
}

/** A time in ms since the epoch as ISO 8601, or as a number when out of `Date`'s range. */
export function formatTime(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms after the epoch`;
}

function among(
  what: string,
  value: string | undefined,
  allowed: readonly string[],
  name: string,
): string | undefined {
  if (value === undefined)
    return `the request names no ${what} and the token is limited to ${name} ${allowed.join(', ')}`;
  return allowed.includes(value) ? undefined : `${what} "${value}" is not among ${allowed.join(', ')}`;
}

/**
 * Why `caveat` denies `request`, as a sentence fragment, or `undefined` when it allows it. An
 * `expires` caveat is reported here too, though verification reports expiry first with its own code.
 */
export function caveatDenial(caveat: Caveat, request: TokenRequest): string | undefined {
  switch (caveat.type) {
    case 'prefix':
      if (request.key === undefined)
        return `the request names no key and the token is limited to keys under "${caveat.prefix}"`;
      return request.key.startsWith(caveat.prefix)
        ? undefined
        : `key "${request.key.slice(0, 80)}" is not under "${caveat.prefix}"`;
    case 'ops':
      return among('operation', request.op, caveat.ops, 'operations');
    case 'app':
      return among('app', request.app, caveat.apps, 'apps');
    case 'env':
      return among('environment', request.env, caveat.envs, 'environments');
    case 'audience':
      return among('audience', request.audience, caveat.audiences, 'audiences');
    case 'expires':
      return request.nowMs < caveat.atMs ? undefined : `it expired at ${formatTime(caveat.atMs)}`;
  }
}
