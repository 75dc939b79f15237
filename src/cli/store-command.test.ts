import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { StoreStatusJson } from '../node/store-http.js';
import { parseKey } from '../security/key-set.js';
import { verifyToken } from '../security/token.js';
import type { CliIo } from './lifecycle.js';
import { runCli } from './run.js';
import { formatStoreStatus } from './store-command.js';

const status = (over: Partial<StoreStatusJson> = {}): StoreStatusJson => ({
  id: '00000000000000a1',
  name: 'node-0',
  leader: '00000000000000a2',
  leaderName: 'node-1',
  role: 'follower',
  term: 3,
  commitIndex: 42,
  appliedIndex: 41,
  revision: 17,
  compactRevision: 0,
  members: [
    {
      id: '00000000000000a1',
      name: 'node-0',
      clientUrls: ['http://127.0.0.1:7300'],
      peerUrls: [],
      isLearner: false,
    },
    {
      id: '00000000000000a2',
      name: 'node-1',
      clientUrls: ['http://127.0.0.1:7301'],
      peerUrls: [],
      isLearner: false,
    },
  ],
  learners: [
    {
      id: '00000000000000a3',
      name: 'node-3\x1b[2K',
      clientUrls: ['http://127.0.0.1:7303'],
      peerUrls: [],
      isLearner: true,
    },
  ],
  ...over,
});

function captureIo(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (chunk: Buffer) => {
    outText += chunk.toString();
  });
  err.on('data', (chunk: Buffer) => {
    errText += chunk.toString();
  });
  return { env, cwd: process.cwd(), stdout: out, stderr: err, out: () => outText, err: () => errText };
}

describe('cairn store status', () => {
  it('prints the summary, voters then learners, marks the leader and the node asked, escapes names', () => {
    const text = formatStoreStatus(status());
    assert.match(text, /^member {5}00000000000000a1 node-0 \(follower\)$/m);
    assert.match(text, /^leader {5}00000000000000a2 node-1$/m);
    assert.match(text, /^term {7}3$/m);
    assert.match(text, /^commit {5}42$/m);
    assert.match(text, /^applied {4}41$/m);
    assert.match(text, /^revision {3}17 \(compacted at 0\)$/m);
    const rows = text.split('\n').filter((l) => /^0{14}a\d/.test(l));
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /node-0 \*\s+voter/);
    assert.match(rows[1]!, /node-1 \(leader\)\s+voter/);
    assert.match(rows[2]!, /node-3\\x1b\[2K\s+learner\s+http:\/\/127\.0\.0\.1:7303/);
    assert.match(text, /2 voters, 1 learners/);
  });

  it('says "none" when no leader is known', () => {
    assert.match(formatStoreStatus(status({ leader: '', leaderName: '' })), /^leader {5}none$/m);
  });

  it('fails with a sentence when the agent cannot be reached', async () => {
    const io = captureIo();
    const code = await runCli(['store', 'status', '--http', '127.0.0.1:1', '--timeout-ms', '2000'], io);
    assert.equal(code, 1);
    assert.match(io.err(), /cannot reach the agent at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('cairn token', () => {
  it('key prints a root key that mint uses; the token verifies and carries the narrowing', async () => {
    const keyIo = captureIo();
    assert.equal(await runCli(['token', 'key'], keyIo), 0);
    const key = keyIo.out().trim();
    const rootKey = parseKey(key);
    const io = captureIo({ CAIRN_TOKEN_ROOT_KEYS: key });
    assert.equal(await runCli(['token', 'mint', '--prefix', 'app/', '--read-only', '--ttl-s', '60'], io), 0);
    const text = io.out().trim();
    assert.match(text, /^cairn1\./);
    const now = Date.now();
    const ok = verifyToken(text, {
      rootKeys: [rootKey],
      request: { nowMs: now, op: 'store:read', key: 'app/x' },
    });
    assert.ok(ok.expiresAtMs !== undefined && ok.expiresAtMs > now);
    assert.throws(() =>
      verifyToken(text, { rootKeys: [rootKey], request: { nowMs: now, op: 'store:write', key: 'app/x' } }),
    );
    assert.throws(() =>
      verifyToken(text, { rootKeys: [rootKey], request: { nowMs: now, op: 'store:read', key: 'other/x' } }),
    );
  });

  it('mint without a root key says how to get one', async () => {
    const io = captureIo();
    assert.equal(await runCli(['token', 'mint'], io), 2);
    assert.match(io.err(), /no root key: set security\.tokenRootKeys/);
  });
});
