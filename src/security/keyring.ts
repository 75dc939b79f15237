import { createCipheriv, createDecipheriv } from 'node:crypto';
import { assert } from '../core/assert.js';
import { CairnError } from '../core/errors.js';
import { checkLimit } from '../core/limits.js';
import { generateKey, KeySet, parseKey } from './key-set.js';
import { type SecurityLimits, securityLimits } from './limits.js';
import { cryptoRandomBytes, type RandomBytes } from './random.js';

/**
 * The keyring: AES-256-GCM encryption of UDP packets and TCP frames.
 *
 * Sealed layout (33 bytes of overhead):
 *
 * ```
 * version (1) = 1 | key id (4) | nonce (12) | ciphertext (n) | tag (16)
 * ```
 *
 * The additional authenticated data is `"cairn-seal-v1" 0x00 | channel | u8 label length | label
 * | the 17 header bytes`. The label (the cluster name) is never sent: a message sealed for another
 * cluster fails to open even under the same key, as memberlist's label does. The channel byte
 * keeps a sealed packet from being accepted as a stream frame and back.
 *
 * The key id (see `key-set.ts`) picks the opening key directly instead of trying every key, and
 * lets a failure say which case it is: a key this node lacks, or a wrong label, channel or tampering.
 *
 * Nonces are 96 random bits per message, so the keys must be rotated before the cluster as a
 * whole seals about 2^32 messages under one key (the point where NIST SP 800-38D puts the chance
 * of a repeated nonce at 2^-32); see DESIGN.md. The keyring does not detect replays: gossip
 * tolerates duplicates, and signed records carry versions.
 */

/** Which transport channel a sealed message travels on. */
export type SealChannel = 'packet' | 'frame';

/** Bytes a sealed message adds to its plaintext. Transports subtract it from the MTU. */
export const SEAL_OVERHEAD_BYTES = 33;

const VERSION = 1;
const HEADER_BYTES = 17;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_DOMAIN = 'cairn-keyring';
const AAD_TAG = Buffer.from('cairn-seal-v1\0', 'latin1');
const CHANNEL_BYTE: Record<SealChannel, number> = { packet: 1, frame: 2 };

/** Options for {@link Keyring}. */
export interface KeyringOptions {
  /** 32-byte keys; the first is the primary, which seals; all of them open. At least one. */
  keys: readonly Uint8Array[];
  /** The cluster label bound into every message; all nodes of a cluster use the same. Default `''`. */
  label?: string;
  /** Nonce source; default the OS CSPRNG. Only the simulator passes its own (its seeded Rng). */
  nonce?: RandomBytes;
  /** Overrides of `maxKeys` and `maxLabelBytes`. */
  limits?: Partial<SecurityLimits>;
}

/** Counts of what a keyring did, for metrics. */
export interface KeyringStats {
  sealed: number;
  opened: number;
  /** Messages that failed to open: unknown key, wrong label or channel, tampering, or garbage. */
  rejected: number;
}

/**
 * Seals and opens messages with a primary key and older keys kept for rotation.
 *
 * Rotation without downtime, as with memberlist: {@link addKey} the new key on every node, then
 * {@link usePrimary} it on every node, then {@link removeKey} the old one on every node.
 *
 * @example
 * ```ts
 * const ring = new Keyring({ keys: [Keyring.parseKey(text)], label: 'prod' });
 * const packet = ring.seal(payload, 'packet');   // payload.length + Keyring.OVERHEAD_BYTES
 * const back = ring.tryOpen(packet, 'packet');   // undefined when it does not open
 * ```
 */
export class Keyring {
  /** Bytes a sealed message adds to its plaintext. Transports subtract it from the MTU. */
  static readonly OVERHEAD_BYTES = SEAL_OVERHEAD_BYTES;
  /** The cluster label bound into every message. */
  readonly label: string;
  /** What this keyring has done since it was made. */
  readonly stats: KeyringStats = { sealed: 0, opened: 0, rejected: 0 };
  private readonly ring: KeySet;
  private readonly nonce: RandomBytes;
  private readonly aadPrefix: Record<SealChannel, Buffer>;

  /**
   * @throws CairnError `INVALID_ARGUMENT` for no keys or a key that is not 32 bytes,
   *   `LIMIT_EXCEEDED` for more than `maxKeys` keys or a label over `maxLabelBytes`
   */
  constructor(options: KeyringOptions) {
    const limits = securityLimits(options.limits);
    const [primary, ...others] = options.keys;
    if (primary === undefined) throw new CairnError('INVALID_ARGUMENT', 'a keyring needs at least one key');
    this.label = options.label ?? '';
    const label = Buffer.from(this.label, 'utf8');
    checkLimit('maxLabelBytes', label.length, limits.maxLabelBytes, 'keyring label length');
    this.ring = new KeySet(KEY_DOMAIN, 'keyring', limits.maxKeys, primary, others);
    this.nonce = options.nonce ?? cryptoRandomBytes;
    const prefix = (channel: SealChannel) =>
      Buffer.concat([AAD_TAG, Buffer.from([CHANNEL_BYTE[channel], label.length]), label]);
    this.aadPrefix = { packet: prefix('packet'), frame: prefix('frame') };
  }

  /** A key from base64 text; see {@link parseKey}. */
  static parseKey(text: string): Uint8Array {
    return parseKey(text);
  }

  /** A new random 32-byte key from the OS CSPRNG. */
  static generateKey(): Uint8Array {
    return generateKey();
  }

  /** The id (8 hex digits) of the key that seals. */
  get primaryKeyId(): string {
    return this.ring.primary.idHex;
  }

  /** Every installed key, primary first. Secret material: for key management, never for logs. */
  keys(): Uint8Array[] {
    return this.ring.list().map((e) => new Uint8Array(e.key.export()));
  }

  /** Every installed key id (8 hex digits), primary first: safe to log and compare between nodes. */
  keyIds(): string[] {
    return this.ring.ids();
  }

  /** Installs a key that opens but does not seal (rotation step 1); returns its id. A no-op for an installed key. */
  addKey(key: Uint8Array): string {
    return this.ring.add(key);
  }

  /** Makes an installed key, given as bytes or id, the one that seals (step 2). Throws `NOT_FOUND` otherwise. */
  usePrimary(keyOrId: Uint8Array | string): void {
    this.ring.use(keyOrId);
  }

  /** Removes an installed key (step 3). Throws `INVALID_ARGUMENT` for the primary, `NOT_FOUND` for an unknown key. */
  removeKey(keyOrId: Uint8Array | string): void {
    this.ring.remove(keyOrId);
  }

  /**
   * Encrypts and authenticates `plaintext` under the primary key; the result is
   * {@link OVERHEAD_BYTES} longer.
   *
   * @param channel - where the message travels (default `packet`); {@link open} must be given the same
   */
  seal(plaintext: Uint8Array, channel: SealChannel = 'packet'): Uint8Array {
    const { id, key } = this.ring.primary;
    const out = Buffer.allocUnsafe(HEADER_BYTES + plaintext.length + TAG_BYTES);
    out[0] = VERSION;
    out.writeUInt32BE(id, 1);
    const nonce = this.nonce(NONCE_BYTES);
    // GCM accepts other nonce lengths, so a faulty source would not fail on its own.
    assert(nonce.length === NONCE_BYTES, `nonce source returned ${nonce.length} bytes, not ${NONCE_BYTES}`);
    out.set(nonce, 5);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aad(channel, out));
    const body = cipher.update(plaintext);
    body.copy(out, HEADER_BYTES);
    const tail = cipher.final();
    tail.copy(out, HEADER_BYTES + body.length);
    cipher.getAuthTag().copy(out, out.length - TAG_BYTES);
    this.stats.sealed++;
    return out;
  }

  /**
   * Decrypts a sealed message.
   *
   * @throws CairnError `DECRYPT_FAILED` when the message is malformed, sealed under a key this
   *   keyring lacks, for another label or channel, or altered
   */
  open(sealed: Uint8Array, channel: SealChannel = 'packet'): Uint8Array {
    const result = this.openOrReason(sealed, channel);
    if (typeof result === 'string')
      throw new CairnError('DECRYPT_FAILED', `cannot open ${channel}: ${result}`);
    return result;
  }

  /** Like {@link open}, but `undefined` instead of throwing: for count-and-drop paths. */
  tryOpen(sealed: Uint8Array, channel: SealChannel = 'packet'): Uint8Array | undefined {
    const result = this.openOrReason(sealed, channel);
    return typeof result === 'string' ? undefined : result;
  }

  private openOrReason(sealed: Uint8Array, channel: SealChannel): Uint8Array | string {
    const input = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    if (input.length < SEAL_OVERHEAD_BYTES)
      return this.reject(`${input.length} bytes is shorter than a sealed message`);
    if (input[0] !== VERSION) return this.reject(`unknown seal version ${input[0]}`);
    const entry = this.ring.get(input.readUInt32BE(1));
    if (entry === undefined)
      return this.reject(`sealed under key ${input.toString('hex', 1, 5)}, which this keyring lacks`);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, input.subarray(5, HEADER_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(this.aad(channel, input));
    decipher.setAuthTag(input.subarray(input.length - TAG_BYTES));
    const body = decipher.update(input.subarray(HEADER_BYTES, input.length - TAG_BYTES));
    try {
      const tail = decipher.final();
      this.stats.opened++;
      return tail.length === 0 ? body : Buffer.concat([body, tail]);
    } catch {
      return this.reject('authentication failed (altered, or sealed for another label or channel)');
    }
  }

  private aad(channel: SealChannel, message: Buffer): Buffer {
    const prefix = this.aadPrefix[channel];
    const aad = Buffer.allocUnsafe(prefix.length + HEADER_BYTES);
    prefix.copy(aad, 0);
    message.copy(aad, prefix.length, 0, HEADER_BYTES);
    return aad;
  }

  private reject(reason: string): string {
    this.stats.rejected++;
    return reason;
  }
}
