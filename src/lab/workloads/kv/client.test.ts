import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { systemClock } from '../../../core/index.js';
import { KvError } from '../../../kv/errors.js';
import { MemoryKv } from '../../../kv/memory-kv.js';
import { serveResp } from '../../../kv/resp/server.js';
import type { Consistency, KvReadOptions, KvWriteOptions } from '../../../kv/types.js';
import { generateKey } from '../../../security/key-set.js';
import { formatToken, mintToken } from '../../../security/token.js';
import { classifyKvError, isSetupError, LabKvClient } from './client.js';

/**
 * The lab's kv client against the real Redis front end (`serveResp` over a `MemoryKv`, with AUTH
 * on) on 127.0.0.1: it authenticates with a token, sets the level it is asked for, and every way a
 * call can fail is classified as the checker needs (certainly not applied, or unknown).
 */

/** A MemoryKv that records the level of every call and can be told to refuse. */
class RecordingKv extends MemoryKv {
  readonly levels: string[] = [];
  refuse: KvError | undefined;

  override async get(key: Uint8Array, options?: KvReadOptions) {
    this.levels.push(`get:${options?.consistency ?? '-'}`);
    if (this.refuse !== undefined) throw this.refuse;
    return super.get(key, options);
  }

  override async put(key: Uint8Array, value: Uint8Array | undefined, options?: KvWriteOptions) {
    this.levels.push(`put:${options?.consistency ?? '-'}`);
    if (this.refuse !== undefined) throw this.refuse;
    return super.put(key, value, options);
  }
}

const rootKey = generateKey();
const token = formatToken(mintToken(rootKey));
const kv = new RecordingKv({ clock: systemClock, name: 'memory' });
const server = await serveResp({
  kv,
  host: '127.0.0.1',
  port: 0,
  auth: { rootKeys: [rootKey], clock: systemClock },
});
after(() => server.close());

describe('lab kv client', () => {
  it('authenticates, sets the level explicitly, and runs SET, GET, DEL and MGET', async () => {
    const c = new LabKvClient({ host: '127.0.0.1', port: server.port, token });
    try {
      assert.deepEqual(await c.normalNodes(), ['memory']);
      await c.set('k', 'c0-0');
      assert.equal(await c.get('k'), 'c0-0');
      assert.deepEqual(await c.mget(['k', 'absent'], 'ALL'), ['c0-0', null]);
      assert.equal(await c.del('k'), 1);
      assert.equal(await c.get('k', 'ONE'), null);
      const levels: Consistency[] = ['QUORUM', 'ALL', 'ONE'];
      for (const level of levels)
        assert.ok(
          kv.levels.some((l) => l.endsWith(level)),
          `${level} used`,
        );
      assert.ok(
        kv.levels.every((l) => !l.endsWith('-')),
        `every call named a level: ${kv.levels.join(' ')}`,
      );
    } finally {
      c.close();
    }
  });

  it('a wrong token fails at set-up: the write was never sent', async () => {
    const c = new LabKvClient({ host: '127.0.0.1', port: server.port, token: 'not-a-token' });
    const err = await c.set('k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    c.close();
    assert.ok(isSetupError(err), String(err));
    assert.equal(classifyKvError(err, false, false).outcome, 'fail');
  });

  it('store refusals: UNAVAILABLE and CLOCK_SKEW certainly failed, TIMEOUT unknown', async () => {
    const c = new LabKvClient({ host: '127.0.0.1', port: server.port, token });
    try {
      const expected = { UNAVAILABLE: 'fail', CLOCK_SKEW: 'fail', TIMEOUT: 'unknown' } as const;
      for (const [code, outcome] of Object.entries(expected)) {
        kv.refuse = new KvError(code as keyof typeof expected, `planted ${code}`);
        const err = await c.set('k', 'v').then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.deepEqual(classifyKvError(err, false, true), { outcome, kind: `resp:${code}` });
        // A read that failed changed nothing.
        assert.equal(classifyKvError(err, true, true).outcome, 'fail');
      }
      kv.refuse = undefined;
      // The connection survived the error replies.
      await c.set('k', 'after');
      assert.equal(await c.get('k'), 'after');
    } finally {
      kv.refuse = undefined;
      c.close();
    }
  });

  it('nothing listening: the call fails before it is sent', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = new LabKvClient({ host: '127.0.0.1', port, token });
    const err = await c.set('k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    c.close();
    assert.ok(isSetupError(err));
    assert.deepEqual(classifyKvError(err, false, false), { outcome: 'fail', kind: 'connect-refused' });
  });

  it('a server that stops answering: the write is unknown after the deadline, and the next call dials again', async () => {
    // Answers every command up to CAIRN CONSISTENCY (AUTH, what ioredis sends on connect), then
    // swallows everything (a paused node).
    const sockets: Socket[] = [];
    let muted = false;
    const mute: Server = createServer((s) => {
      sockets.push(s);
      s.on('data', (chunk: Buffer) => {
        if (muted) return;
        const text = chunk.toString('latin1');
        s.write('+OK\r\n'.repeat(text.match(/^\*\d+\r$/gm)?.length ?? 0));
        if (text.includes('CONSISTENCY')) muted = true;
      });
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as { port: number }).port;
    const c = new LabKvClient({ host: '127.0.0.1', port, token, timeoutMs: 200 });
    try {
      const err = await c.set('k', 'v').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(!isSetupError(err), String(err));
      assert.deepEqual(classifyKvError(err, false, true), { outcome: 'unknown', kind: 'timeout' });
      const again = await c.get('k').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(again instanceof Error);
      assert.equal(sockets.length, 2, 'the timed-out connection was dropped and a new one dialled');
    } finally {
      c.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});
