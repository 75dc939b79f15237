import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CairnError } from '../core/errors.js';
import { errorCode, syncDirectory, writeSyncedTemporary } from './durable-file.js';
import { NodeIdentity } from './identity.js';
import type { RandomBytes } from './random.js';

/**
 * The node key file: a node's identity kept in its data directory. This is the Node.js
 * file-system adapter of `identity.ts`; the simulator derives identities from its seed instead.
 *
 * The file is `<dataDir>/node.key`, a PEM PKCS#8 Ed25519 private key of mode 0600 that
 * `openssl pkey -in node.key -pubout` reads. It is created once, atomically: written to a
 * temporary file, flushed, hard-linked into place and the directory flushed. A crash never leaves
 * a half-written key, and two processes starting on one empty directory both end up with the
 * identity of the one that wrote first. Like ssh, loading refuses a key file that other users can
 * access.
 */

/** The key file's name inside a data directory. */
export const IDENTITY_FILE_NAME = 'node.key';

/** A PEM Ed25519 key is about 120 bytes; anything much larger is not a key file. */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/** What {@link loadOrCreateIdentity} found. */
export interface LoadedIdentity {
  readonly identity: NodeIdentity;
  /** True when this call created the key file (first start). */
  readonly created: boolean;
  /** The key file's path. */
  readonly path: string;
}

function ioError(action: string, path: string, err: unknown): CairnError {
  return new CairnError('IO_ERROR', `cannot ${action} ${path}: ${(err as Error).message}`, {
    cause: err,
    details: { path },
  });
}

/**
 * Reads the identity in the key file at `path`.
 *
 * @throws CairnError `NOT_FOUND` when there is no file, `IDENTITY_INVALID` when it is not an
 *   Ed25519 key or other users may access it, `IO_ERROR` for other failures
 */
export async function readIdentityFile(path: string): Promise<NodeIdentity> {
  let pem: string;
  try {
    const file = await open(path, 'r');
    try {
      const stat = await file.stat();
      if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
        const mode = (stat.mode & 0o777).toString(8);
        throw new CairnError(
          'IDENTITY_INVALID',
          `node key file ${path} is accessible by other users (mode ${mode}); run: chmod 600 ${path}`,
        );
      }
      if (stat.size > MAX_KEY_FILE_BYTES) {
        throw new CairnError(
          'IDENTITY_INVALID',
          `node key file ${path} is ${stat.size} bytes, too large for a key`,
        );
      }
      pem = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    if (err instanceof CairnError) throw err;
    if (errorCode(err) === 'ENOENT')
      throw new CairnError('NOT_FOUND', `no node key file at ${path}`, { cause: err });
    throw ioError('read node key file', path, err);
  }
  try {
    return NodeIdentity.fromPrivateKeyPem(pem);
  } catch (err) {
    throw new CairnError('IDENTITY_INVALID', `node key file ${path} does not hold an Ed25519 private key`, {
      cause: err,
    });
  }
}

/**
 * Writes `identity` to a new key file at `path` (mode 0600), unless a file is there already.
 * Creates the parent directory (mode 0700) when missing.
 *
 * @returns true when this call created the file; false when one existed, which is left untouched
 * @throws CairnError `IO_ERROR`
 */
export async function createIdentityFile(path: string, identity: NodeIdentity): Promise<boolean> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError('create directory', dir, err);
  }
  let temporary: string | undefined;
  try {
    temporary = await writeSyncedTemporary(path, identity.exportPrivateKeyPem());
    try {
      await link(temporary, path);
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return false;
      throw err;
    }
  } catch (err) {
    throw ioError('create node key file', path, err);
  } finally {
    if (temporary !== undefined) await unlink(temporary).catch(() => undefined);
  }
  try {
    await syncDirectory(dir);
  } catch (err) {
    throw ioError('flush directory', dir, err);
  }
  return true;
}

/**
 * The identity kept in `dataDir`, created (with the directory) on first start.
 *
 * @param options.random - byte source for a new key; default the OS CSPRNG
 * @throws CairnError `IDENTITY_INVALID` for an unusable key file, `IO_ERROR` for IO failures
 * @example
 * ```ts
 * const { identity, created } = await loadOrCreateIdentity('/var/lib/cairn');
 * log.info({ node: identity.nodeId, created }, 'node identity loaded');
 * ```
 */
export async function loadOrCreateIdentity(
  dataDir: string,
  options: { random?: RandomBytes } = {},
): Promise<LoadedIdentity> {
  const path = join(dataDir, IDENTITY_FILE_NAME);
  try {
    return { identity: await readIdentityFile(path), created: false, path };
  } catch (err) {
    if (!(err instanceof CairnError && err.code === 'NOT_FOUND')) throw err;
  }
  const identity = NodeIdentity.generate(options.random);
  if (await createIdentityFile(path, identity)) return { identity, created: true, path };
  // Another process created the file between our read and our write: its identity wins.
  return { identity: await readIdentityFile(path), created: false, path };
}
