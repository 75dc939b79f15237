import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NodeIdentity } from './identity.js';
import { IDENTITY_FILE_NAME, loadOrCreateIdentity, readIdentityFile } from './identity-file.js';

const posix = process.platform !== 'win32';
const root = await mkdtemp(join(tmpdir(), 'cairn-identity-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`, 'data');

describe('loadOrCreateIdentity', () => {
  it('creates node.key (0600) and its directory (0700) on first start, then loads the same identity', async () => {
    const dir = freshDir();
    const first = await loadOrCreateIdentity(dir);
    assert.equal(first.created, true);
    assert.equal(first.path, join(dir, IDENTITY_FILE_NAME));
    const second = await loadOrCreateIdentity(dir);
    assert.equal(second.created, false);
    assert.equal(second.identity.nodeId, first.identity.nodeId);
    assert.match(await readFile(first.path, 'utf8'), /BEGIN PRIVATE KEY/);
    if (posix) {
      assert.equal((await stat(first.path)).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
    }
  });

  it('gives every concurrent starter on one directory the same identity', async () => {
    const dir = freshDir();
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)));
    assert.equal(new Set(results.map((r) => r.identity.nodeId)).size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
  });

  it('loads a key written by someone else (openssl-style PKCS#8 PEM)', async () => {
    const dir = freshDir();
    const expected = NodeIdentity.generate();
    await loadOrCreateIdentity(dir); // creates the directory
    const path = join(dir, IDENTITY_FILE_NAME);
    await rm(path);
    await writeFile(path, expected.exportPrivateKeyPem(), { mode: 0o600 });
    assert.equal((await loadOrCreateIdentity(dir)).identity.nodeId, expected.nodeId);
  });

  it('refuses a key file other users can read, naming the path', { skip: !posix }, async () => {
    const dir = freshDir();
    const { path } = await loadOrCreateIdentity(dir);
    await chmod(path, 0o644);
    await assert.rejects(loadOrCreateIdentity(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'IDENTITY_INVALID');
      assert.ok(err.message.includes(path), err.message);
      return true;
    });
  });

  it('refuses a malformed key file instead of replacing it', async () => {
    const dir = freshDir();
    const { path } = await loadOrCreateIdentity(dir);
    await writeFile(path, 'garbage', { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), { code: 'IDENTITY_INVALID', message: new RegExp(path) });
    assert.equal(await readFile(path, 'utf8'), 'garbage');
  });

  it('reports a missing file as NOT_FOUND', async () => {
    await assert.rejects(readIdentityFile(join(root, 'nowhere', 'node.key')), { code: 'NOT_FOUND' });
  });
});
