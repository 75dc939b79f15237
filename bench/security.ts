/**
 * Security brick benchmark: `npm run bench -- security [--seconds=0.5] [--max-iterations=1000000]`.
 *
 * Measures operations per second of the security brick next to the bare node:crypto calls under it,
 * so the figures show what Cairn's framing costs: Ed25519 record signing and verification (with the
 * per-process KeyObject cache, and parsing the key every time as an uncached verifier would), the
 * INSECURE simulated scheme, keyring seal/open of 1 KiB against bare AES-256-GCM, and capability
 * tokens. Every loop stops at a time budget or an iteration cap, whichever comes first.
 */
import { createCipheriv, createDecipheriv, createPublicKey, randomBytes, verify } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  attenuate,
  formatToken,
  Keyring,
  mintToken,
  NodeIdentity,
  parseToken,
  publicKeyFromNodeId,
  signedRecordBytes,
  signRecord,
  simulatedScheme,
  verifyRecord,
  verifyToken,
} from '../src/security/index.js';

interface Measured {
  opsPerSecond: number;
  microsecondsPerOp: number;
  iterations: number;
}

function flag(argv: string[], name: string, fallback: number): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

function measure(name: string, seconds: number, maxIterations: number, op: (i: number) => unknown): Measured {
  // Warm up so the JIT and any caches are in their steady state.
  for (let i = 0; i < Math.min(200, maxIterations); i++) op(i);
  const budgetMs = seconds * 1000;
  const start = performance.now();
  let iterations = 0;
  let elapsed = 0;
  // Check the clock every 16 operations: cheap enough, and bounds the overshoot.
  while (iterations < maxIterations && elapsed < budgetMs) {
    for (let k = 0; k < 16 && iterations < maxIterations; k++) op(iterations++);
    elapsed = performance.now() - start;
  }
  const result = {
    opsPerSecond: Math.round((iterations / elapsed) * 1000),
    microsecondsPerOp: Number(((elapsed * 1000) / iterations).toFixed(2)),
    iterations,
  };
  process.stderr.write(`${name}: ${result.opsPerSecond} ops/s (${result.microsecondsPerOp} us/op)\n`);
  return result;
}

export async function main(argv: string[]): Promise<object> {
  const seconds = flag(argv, 'seconds', 0.5);
  const maxIterations = flag(argv, 'max-iterations', 1_000_000);
  const run = (name: string, op: (i: number) => unknown) => measure(name, seconds, maxIterations, op);

  // A ~200-byte membership-style record.
  const identity = NodeIdentity.generate();
  const payload = randomBytes(200);
  const record = signRecord(identity, 1, payload);
  const simRecord = signRecord(identity, 1, payload, simulatedScheme);
  const recordBytes = signedRecordBytes(identity.nodeId, 1, payload);
  const spki = Buffer.concat([
    Buffer.from('302a300506032b6570032100', 'hex'),
    publicKeyFromNodeId(identity.nodeId),
  ]);
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });

  const ed25519 = {
    signRecord: run('ed25519 signRecord 200 B', (i) => signRecord(identity, i, payload)),
    verifyRecordCached: run('ed25519 verifyRecord 200 B (cached key)', () => verifyRecord(record)),
    verifyRecordUncached: run('ed25519 verify 200 B (key parsed each time)', () =>
      verify(
        null,
        recordBytes,
        createPublicKey({ key: spki, format: 'der', type: 'spki' }),
        record.signature,
      ),
    ),
    bareVerify: run('node:crypto verify 200 B (bare, parsed key)', () =>
      verify(null, recordBytes, publicKey, record.signature),
    ),
  };
  const simulated = {
    signRecord: run('simulated signRecord 200 B', (i) => signRecord(identity, i, payload, simulatedScheme)),
    verifyRecord: run('simulated verifyRecord 200 B', () => verifyRecord(simRecord, simulatedScheme)),
  };

  const key = Keyring.generateKey();
  const ring = new Keyring({ keys: [key], label: 'bench' });
  const kib = randomBytes(1024);
  const sealed = ring.seal(kib);
  const mtuPacket = randomBytes(1400 - Keyring.OVERHEAD_BYTES);
  const sealedPacket = ring.seal(mtuPacket);
  const iv = randomBytes(12);
  const bareSealed = (() => {
    const c = createCipheriv('aes-256-gcm', key, iv);
    return { body: Buffer.concat([c.update(kib), c.final()]), tag: c.getAuthTag() };
  })();
  const keyring = {
    seal1KiB: run('keyring seal 1 KiB', () => ring.seal(kib)),
    open1KiB: run('keyring open 1 KiB', () => ring.open(sealed)),
    sealPacket1400: run('keyring seal 1400 B packet', () => ring.seal(mtuPacket)),
    openPacket1400: run('keyring open 1400 B packet', () => ring.open(sealedPacket)),
    rejectGarbage1KiB: run('keyring tryOpen garbage 1 KiB', () => ring.tryOpen(kib)),
    bareAesGcmSeal1KiB: run('node:crypto aes-256-gcm seal 1 KiB (bare)', () => {
      const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
      c.update(kib);
      c.final();
      return c.getAuthTag();
    }),
    bareAesGcmOpen1KiB: run('node:crypto aes-256-gcm open 1 KiB (bare)', () => {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(bareSealed.tag);
      d.update(bareSealed.body);
      return d.final();
    }),
  };

  const rootKey = randomBytes(32);
  const root = mintToken(rootKey);
  const limited = attenuate(root, [
    { type: 'ops', ops: ['kv:read', 'kv:write'] },
    { type: 'prefix', prefix: 'app1/' },
    { type: 'expires', atMs: Date.now() + 3_600_000 },
  ]);
  const text = formatToken(limited);
  const request = { nowMs: Date.now(), op: 'kv:read', key: 'app1/x' };
  const tokens = {
    tokenChars: text.length,
    mint: run('token mint (no caveats)', () => mintToken(rootKey)),
    attenuate: run('token attenuate (+1 caveat)', () => attenuate(root, [{ type: 'ops', ops: ['kv:read'] }])),
    parse: run('token parse (3 caveats)', () => parseToken(text)),
    verifyText: run('token verify from text (3 caveats)', () =>
      verifyToken(text, { rootKeys: [rootKey], request }),
    ),
    verifyParsed: run('token verify parsed (3 caveats)', () =>
      verifyToken(limited, { rootKeys: [rootKey], request }),
    ),
  };

  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    secondsPerMeasurement: seconds,
    ed25519,
    simulated,
    keyring,
    tokens,
  };
}
