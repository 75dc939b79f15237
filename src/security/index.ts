/**
 * `cairn/security`: node identity (Ed25519), signed records, the keyring (AES-256-GCM) and
 * capability tokens (macaroon-style HMAC chains). See DESIGN.md for formats and invariants.
 *
 * @packageDocumentation
 */
export type { Caveat, CaveatType, TokenRequest } from './caveats.js';
export {
  isNodeId,
  NODE_ID_LENGTH,
  type NodeId,
  NodeIdentity,
  NodeIdValidator,
  nodeIdFromPublicKey,
  PUBLIC_KEY_BYTES,
  publicKeyFromNodeId,
  SEED_BYTES,
  SHORT_ID_LENGTH,
  SIGNATURE_BYTES,
  shortNodeId,
  verifySignature,
} from './identity.js';
export {
  createIdentityFile,
  IDENTITY_FILE_NAME,
  type LoadedIdentity,
  loadOrCreateIdentity,
  readIdentityFile,
} from './identity-file.js';
export { formatKey, generateKey, KEY_BYTES, parseKey } from './key-set.js';
export {
  Keyring,
  type KeyringOptions,
  type KeyringStats,
  SEAL_OVERHEAD_BYTES,
  type SealChannel,
} from './keyring.js';
export { DEFAULT_LIMITS, type SecurityLimits, securityLimits } from './limits.js';
export { cryptoRandomBytes, type RandomBytes } from './random.js';
export { type Revocation, RevocationList } from './revocation.js';
export {
  ed25519Scheme,
  type SignatureScheme,
  type SignedRecord,
  SignedRecordValidator,
  signedRecordBytes,
  signRecord,
  simulatedScheme,
  verifyRecord,
} from './signed.js';
export {
  attenuate,
  formatToken,
  MIN_ROOT_KEY_BYTES,
  type MintTokenOptions,
  mintToken,
  parseToken,
  TOKEN_ID_BYTES,
  TOKEN_PREFIX,
  type Token,
  tokenExpiry,
  type VerifiedToken,
  type VerifyTokenOptions,
  verifyToken,
} from './token.js';
