import { randomBytes } from 'node:crypto';

/**
 * A source of random bytes.
 *
 * Production code uses {@link cryptoRandomBytes}, the operating system's CSPRNG. The simulator
 * passes its seeded `Rng` instead so that a run (nonces, token ids, generated keys) replays byte
 * for byte. Passing anything but a CSPRNG outside the simulator breaks the keyring: AES-GCM leaks
 * its authentication key when a nonce repeats.
 */
export type RandomBytes = (length: number) => Uint8Array;

/** Random bytes from the operating system (`crypto.randomBytes`). */
export const cryptoRandomBytes: RandomBytes = (length) => randomBytes(length);
