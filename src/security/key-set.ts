import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { assert } from '../core/assert.js';
import { CairnError } from '../core/errors.js';
import { cryptoRandomBytes, type RandomBytes } from './random.js';

/**
 * Symmetric keys with rotation: one primary key that makes new messages, and older keys that are
 * still accepted, each named by a 4-byte key id.
 *
 * The {@link Keyring} holds its AES-256-GCM keys in one of these. A key id is the first four
 * bytes of `SHA-256(domain 0x00 key)`: it tells a receiver which key to use without trying all of
 * them, and reveals nothing useful about a 256-bit key. The domain keeps a key's id unrelated to
 * the id the same bytes would have anywhere else.
 *
 * Rotation, as in memberlist's keyring: add the new key everywhere, make it primary everywhere,
 * then remove the old one everywhere.
 */

/** Bytes in every symmetric key: AES-256 keys and token root keys are both 256 bits. */
export const KEY_BYTES = 32;

/** One installed key. */
export interface KeyEntry {
  /** The key id as an unsigned 32-bit integer, as carried on the wire. */
  readonly id: number;
  /** The key id as 8 hex digits, as shown to operators. */
  readonly idHex: string;
  /** The key, held outside the JavaScript heap. */
  readonly key: KeyObject;
}

/** A new random key. @param random - default the OS CSPRNG */
export function generateKey(random: RandomBytes = cryptoRandomBytes): Uint8Array {
  const key = random(KEY_BYTES);
  assert(key.length === KEY_BYTES, `random source returned ${key.length} bytes, not ${KEY_BYTES}`);
  // A plain Uint8Array, as parseKey returns, whatever type the source gave.
  return new Uint8Array(key);
}

const BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;

/**
 * A key from its text form: 32 bytes in base64 (as `formatKey` writes and `openssl rand -base64 32`
 * prints) or unpadded base64url.
 *
 * @throws CairnError `INVALID_ARGUMENT` when `text` is not exactly 32 bytes in either form; the
 *   message never repeats the text, which may be a mistyped secret
 */
export function parseKey(text: string): Uint8Array {
  const trimmed = text.trim();
  const isBase64 = BASE64.test(trimmed);
  if (!isBase64 && !BASE64URL.test(trimmed)) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `a key must be 32 bytes written as base64 (44 characters ending in "=") or base64url (43 characters); got ${trimmed.length} characters`,
    );
  }
  const key = Buffer.from(trimmed, isBase64 ? 'base64' : 'base64url');
  // 43 characters carry 258 bits; the last two must be zero or the text is not the key's only form.
  if (key.length !== KEY_BYTES || key.toString(isBase64 ? 'base64' : 'base64url') !== trimmed) {
    throw new CairnError('INVALID_ARGUMENT', 'a key must be the canonical base64 of 32 bytes');
  }
  return new Uint8Array(key);
}

/** The base64 text of a key, which {@link parseKey} reads back. */
export function formatKey(key: Uint8Array): string {
  checkKey(key);
  return Buffer.from(key).toString('base64');
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) {
    throw new CairnError('INVALID_ARGUMENT', `a key must have ${KEY_BYTES} bytes, got ${key.length}`);
  }
}

/** The id of `key` in `domain`. */
export function keyIdOf(domain: string, key: Uint8Array): number {
  return createHash('sha256').update(domain).update('\0').update(key).digest().readUInt32BE(0);
}

/** 8 hex digits of a key id. */
export function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/** A primary key and accepted older keys; see the module comment. */
export class KeySet {
  private readonly entries = new Map<number, KeyEntry>();
  private primaryId: number;

  /**
   * @param domain - names what the keys are for; part of every key id
   * @param what - how errors name the keys, e.g. `keyring`
   * @param maxKeys - the most keys installed at once
   */
  constructor(
    private readonly domain: string,
    private readonly what: string,
    private readonly maxKeys: number,
    primary: Uint8Array,
    others: readonly Uint8Array[] = [],
  ) {
    this.primaryId = this.install(primary).id;
    for (const key of others) this.install(key);
  }

  /** The key that makes new messages. */
  get primary(): KeyEntry {
    const entry = this.entries.get(this.primaryId);
    assert(entry !== undefined, `${this.what} lost its primary key`);
    return entry;
  }

  /** The installed key with wire id `id`. */
  get(id: number): KeyEntry | undefined {
    return this.entries.get(id);
  }

  /** Every installed key, primary first, then by id. */
  list(): KeyEntry[] {
    const rest = [...this.entries.values()]
      .filter((e) => e.id !== this.primaryId)
      .sort((a, b) => a.id - b.id);
    return [this.primary, ...rest];
  }

  /** Every installed key id in hex, primary first. */
  ids(): string[] {
    return this.list().map((e) => e.idHex);
  }

  /** Installs `key` as an accepted key (a no-op when it is installed) and returns its id in hex. */
  add(key: Uint8Array): string {
    return this.install(key).idHex;
  }

  /** Makes an installed key, given as bytes or id, the primary. */
  use(keyOrId: Uint8Array | string): void {
    this.primaryId = this.find(keyOrId).id;
  }

  /** Removes an installed key that is not the primary. */
  remove(keyOrId: Uint8Array | string): void {
    const entry = this.find(keyOrId);
    if (entry.id === this.primaryId) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `cannot remove ${this.what} key ${entry.idHex}: it is the primary; make another key primary first`,
      );
    }
    this.entries.delete(entry.id);
  }

  private install(key: Uint8Array): KeyEntry {
    checkKey(key);
    const id = keyIdOf(this.domain, key);
    const existing = this.entries.get(id);
    const material = createSecretKey(key);
    if (existing !== undefined) {
      // Two different keys with one id would make the id ambiguous; the odds are 2^-32 per pair.
      if (!existing.key.equals(material)) {
        throw new CairnError(
          'INVALID_ARGUMENT',
          `${this.what} key id ${existing.idHex} is taken by another key`,
        );
      }
      return existing;
    }
    if (this.entries.size >= this.maxKeys) {
      throw new CairnError(
        'LIMIT_EXCEEDED',
        `${this.what} holds ${this.entries.size} keys, the limit maxKeys=${this.maxKeys}; remove one first`,
        { details: { limit: 'maxKeys', value: this.entries.size + 1, max: this.maxKeys } },
      );
    }
    const entry: KeyEntry = { id, idHex: keyIdHex(id), key: material };
    this.entries.set(id, entry);
    return entry;
  }

  private find(keyOrId: Uint8Array | string): KeyEntry {
    if (typeof keyOrId === 'string') {
      const entry = /^[0-9a-f]{8}$/.test(keyOrId)
        ? this.entries.get(Number.parseInt(keyOrId, 16))
        : undefined;
      if (entry === undefined) throw this.notFound(`"${keyOrId.slice(0, 16)}"`);
      return entry;
    }
    checkKey(keyOrId);
    const entry = this.entries.get(keyIdOf(this.domain, keyOrId));
    if (entry === undefined || !entry.key.equals(createSecretKey(keyOrId)))
      throw this.notFound('the given key');
    return entry;
  }

  private notFound(name: string): CairnError {
    return new CairnError(
      'NOT_FOUND',
      `${this.what} has no key ${name}; installed: ${this.ids().join(', ')}`,
    );
  }
}
