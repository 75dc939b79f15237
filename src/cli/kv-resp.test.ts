import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { encodeCommand, parseReply, RespClient, RespProtocolError, type RespReply } from './kv-resp.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** A seeded generator (xorshift32): the same seed gives the same bytes. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('kv-resp: encoding and parsing', () => {
  it('encodes a command as an array of bulk strings (binary safe)', () => {
    assert.equal(
      encodeCommand(['SET', 'k', new Uint8Array([0, 13, 10])]).toString('latin1'),
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n',
    );
    assert.equal(encodeCommand(['GET', 'é']).toString('utf8'), '*2\r\n$3\r\nGET\r\n$2\r\né\r\n');
  });

  it('parses every reply type, and says when a reply is not whole yet', () => {
    const cases: [string, RespReply][] = [
      ['+OK\r\n', { type: 'simple', value: 'OK' }],
      ['-ERR no\r\n', { type: 'error', message: 'ERR no' }],
      [':-42\r\n', { type: 'integer', value: -42n }],
      ['$3\r\na\r\n\r\n', { type: 'bulk', value: b('a\r\n') }],
      ['$-1\r\n', { type: 'bulk', value: null }],
      ['_\r\n', { type: 'bulk', value: null }],
      ['*-1\r\n', { type: 'array', items: null }],
      [
        '*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n',
        {
          type: 'array',
          items: [
            { type: 'bulk', value: b('0') },
            { type: 'array', items: [{ type: 'bulk', value: b('k') }] },
          ],
        },
      ],
    ];
    for (const [text, reply] of cases) {
      const whole = b(`${text}+next\r\n`);
      assert.deepEqual(parseReply(whole), { reply, length: text.length }, text);
      // Every cut before the end is incomplete, never an error or a wrong reply.
      for (let cut = 0; cut < text.length; cut++) assert.equal(parseReply(whole.subarray(0, cut)), undefined);
    }
  });

  it('refuses what is not RESP, or over its bounds', () => {
    for (const bad of [
      '?x\r\n',
      ':12a\r\n',
      '$5\r\nabcdefg',
      '$-2\r\n',
      `$${64 * 1024 * 1024}\r\n`,
      '*-5\r\n',
    ]) {
      assert.throws(() => parseReply(b(bad)), RespProtocolError, bad);
    }
    assert.throws(() => parseReply(b('*1\r\n'.repeat(10))), /nest too deep/);
    assert.throws(() => parseReply(Buffer.alloc(70 * 1024, 0x2b)), /over 64 KiB/);
  });

  it('random bytes either parse, wait for more, or fail with RespProtocolError (seeded)', () => {
    const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000);
    const replay = `CAIRN_TEST_SEED=${seed} node --import tsx --test src/cli/kv-resp.test.ts`;
    const next = xorshift(seed);
    const alphabet = b('+-:$*_\r\n0123456789-ab');
    for (let round = 0; round < 2_000; round++) {
      const bytes = Buffer.from(
        Array.from({ length: 1 + (next() % 40) }, () => alphabet[next() % alphabet.length]!),
      );
      try {
        const parsed = parseReply(bytes);
        if (parsed !== undefined) assert.ok(parsed.length <= bytes.length, `seed=${seed}: ${replay}`);
      } catch (err) {
        assert.ok(err instanceof RespProtocolError, `seed=${seed}: ${String(err)}; replay: ${replay}`);
      }
    }
  });
});

describe('kv-resp: RespClient', () => {
  async function server(onData: (data: Buffer, write: (s: string) => void) => void): Promise<Server> {
    const s = createServer((socket) => socket.on('data', (d) => onData(d, (text) => socket.write(text))));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return s;
  }
  const portOf = (s: Server) => (s.address() as { port: number }).port;

  it('answers calls in order, replies split across chunks', async () => {
    const s = await server((_d, write) => {
      write('+PO');
      setImmediate(() => write('NG\r\n$2\r\nhi\r\n'));
    });
    const client = await RespClient.open('127.0.0.1', portOf(s), 5_000);
    try {
      const [a, bb] = await Promise.all([client.call(['PING']), client.call(['GET', 'x'])]);
      assert.deepEqual(a, { type: 'simple', value: 'PONG' });
      assert.deepEqual(bb, { type: 'bulk', value: b('hi') });
    } finally {
      client.close();
      s.close();
    }
  });

  it('fails pending calls when the server answers garbage or closes', async () => {
    const s = await server((_d, write) => write('!!\r\n'));
    const client = await RespClient.open('127.0.0.1', portOf(s), 5_000);
    await assert.rejects(client.call(['PING']), RespProtocolError);
    await assert.rejects(client.call(['PING']), RespProtocolError, 'a failed connection stays failed');
    s.close();
  });

  it('a connection refused is an error naming the cause', async () => {
    const s = await server(() => {});
    const port = portOf(s);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    await assert.rejects(RespClient.open('127.0.0.1', port, 5_000), /ECONNREFUSED/);
  });
});
