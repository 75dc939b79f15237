import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty } from '../resp/test-seed.js';
import { encodeCommand } from './connection.js';
import { DEFAULT_LIMITS } from './limits.js';
import { type Reply, ReplyError, ReplyReader } from './reply-reader.js';

const FILE = 'src/kv/client/reply-reader.test.ts';

/** Every reply `input` holds, or the protocol error that ends it. */
function readAll(reader: ReplyReader): (Reply | { protocolError: string })[] {
  const out: (Reply | { protocolError: string })[] = [];
  for (let i = 0; i < 10_000; i++) {
    const r = reader.next();
    if (r === undefined) return out;
    out.push(r);
    if (r !== null && typeof r === 'object' && 'protocolError' in r) return out;
  }
  throw new Error('reader did not stop');
}

function encode(reply: Reply): string {
  if (reply === null) return '$-1\r\n';
  if (typeof reply === 'number') return `:${reply}\r\n`;
  if (typeof reply === 'string') return `+${reply}\r\n`;
  if (reply instanceof ReplyError) return `-${reply.message}\r\n`;
  if (Buffer.isBuffer(reply)) return `$${reply.length}\r\n${reply.toString('latin1')}\r\n`;
  const items = reply as readonly Reply[];
  return `*${items.length}\r\n${items.map(encode).join('')}`;
}

const line = fc.stringMatching(/^[a-zA-Z0-9 ]{0,20}$/);
const replyArb: fc.Arbitrary<Reply> = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    line,
    line.map((t) => new ReplyError(`ERR ${t}`)),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.array(tie('reply'), { maxLength: 4 }),
  ),
})).reply;

describe('ReplyReader', () => {
  it('reads each type', () => {
    const reader = new ReplyReader(DEFAULT_LIMITS);
    reader.push(
      Buffer.from(
        '+OK\r\n-TIMEOUT only 1 of 2\r\n:42\r\n:-7\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*2\r\n$0\r\n\r\n*0\r\n',
      ),
    );
    const got = readAll(reader);
    assert.equal(got[0], 'OK');
    assert.ok(got[1] instanceof ReplyError);
    assert.equal((got[1] as ReplyError).code, 'TIMEOUT');
    assert.equal((got[1] as ReplyError).message, 'TIMEOUT only 1 of 2');
    assert.equal(got[2], 42);
    assert.equal(got[3], -7);
    assert.deepEqual(got[4], Buffer.from('a\r\n'));
    assert.equal(got[5], null);
    assert.equal(got[6], null);
    assert.deepEqual(got[7], [Buffer.alloc(0), []]);
    assert.equal(got.length, 8);
    assert.equal(reader.bufferedBytes, 0);
  });

  it('reads any split of a valid stream as the whole (property)', async () => {
    await checkProperty(
      FILE,
      fc.property(
        fc.array(replyArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (replies, cuts) => {
          const bytes = Buffer.from(replies.map(encode).join(''), 'latin1');
          const reader = new ReplyReader(DEFAULT_LIMITS);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const got: unknown[] = [];
          let from = 0;
          for (const p of [...points, bytes.length]) {
            reader.push(bytes.subarray(from, p));
            from = p;
            got.push(...readAll(reader));
          }
          assert.deepEqual(got, replies);
          assert.equal(reader.bufferedBytes, 0);
        },
      ),
    );
  });

  it('never throws on random bytes, and stays dead after a protocol error (property)', async () => {
    await checkProperty(
      FILE,
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const reader = new ReplyReader({ ...DEFAULT_LIMITS, maxReplyLineBytes: 32, maxReplyBytes: 256 });
        let dead = false;
        for (const c of chunks) {
          reader.push(Buffer.from(c));
          const got = readAll(reader);
          const last = got[got.length - 1];
          if (dead)
            assert.ok(
              got.length === 1 && last !== null && typeof last === 'object' && 'protocolError' in last,
            );
          if (last !== null && typeof last === 'object' && 'protocolError' in last) dead = true;
          assert.ok(reader.bufferedBytes <= 256 + 64);
        }
      }),
    );
  });

  it('refuses what is over its limits', () => {
    const small = {
      ...DEFAULT_LIMITS,
      maxReplyBulkBytes: 10,
      maxReplyItems: 3,
      maxReplyDepth: 2,
      maxReplyLineBytes: 8,
      maxReplyBytes: 40,
    };
    const cases: [string, RegExp][] = [
      ['$11\r\n', /maxReplyBulkBytes/],
      ['*4\r\n', /maxReplyItems/],
      ['*1\r\n*1\r\n*1\r\n:1\r\n', /maxReplyDepth/],
      ['+123456789', /line is over/],
      ['*3\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n$10\r\n01234567', /maxReplyBytes/],
      ['$1\r\nab\r\n', /not followed by CRLF/],
      ['%1\r\n', /unexpected reply type/],
      [':12a\r\n', /invalid integer/],
      ['$-2\r\n', /invalid bulk length/],
      ['+a\rb\r\n', /CR without LF/],
    ];
    for (const [input, reason] of cases) {
      const reader = new ReplyReader(small);
      reader.push(Buffer.from(input, 'latin1'));
      const got = reader.next();
      assert.ok(
        got !== undefined && got !== null && typeof got === 'object' && 'protocolError' in got,
        input,
      );
      assert.match(got.protocolError, reason, input);
    }
  });

  it('copies a large bulk string cut in many chunks once it is complete', () => {
    const value = Buffer.alloc(200_000, 7);
    const bytes = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
    const reader = new ReplyReader(DEFAULT_LIMITS);
    let got: unknown;
    for (let at = 0; at < bytes.length; at += 1000) {
      reader.push(bytes.subarray(at, at + 1000));
      got = reader.next();
      if (at + 1000 < bytes.length) assert.equal(got, undefined);
    }
    assert.deepEqual(got, value);
  });

  it('encodes commands the request parser reads back', () => {
    assert.equal(
      encodeCommand(['SET', 'k', Buffer.from([0, 255])]).toString('latin1'),
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00\xff\r\n',
    );
    assert.equal(encodeCommand(['GET', 'é']).toString('latin1'), '*2\r\n$3\r\nGET\r\n$2\r\n\xc3\xa9\r\n');
  });
});
