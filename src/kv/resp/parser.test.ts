import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_LIMITS } from './limits.js';
import { type ProtocolError, RespParser } from './parser.js';
import { splitInlineArgs } from './split-args.js';
import { checkProperty } from './test-seed.js';

const FILE = 'src/kv/resp/parser.test.ts';

type Out = string[][] | { error: string; before: string[][] };

/** Feeds `chunks` and drains every command, as text (latin1) for easy comparison. */
function parseAll(chunks: readonly Uint8Array[], parser = new RespParser(DEFAULT_LIMITS)): Out {
  const commands: string[][] = [];
  for (const chunk of chunks) {
    parser.push(Buffer.from(chunk));
    while (true) {
      const next = parser.next();
      if (next === undefined) break;
      if (!Array.isArray(next)) return { error: (next as ProtocolError).protocolError, before: commands };
      commands.push(next.map((a) => a.toString('latin1')));
    }
  }
  return commands;
}

function multibulk(args: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), Buffer.from(a), Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, in range). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('RespParser', () => {
  it('parses multibulk commands and pipelines', () => {
    const input = Buffer.concat([
      multibulk([Buffer.from('SET'), Buffer.from('k'), Buffer.from('v\r\nx')]),
      multibulk([Buffer.from('GET'), Buffer.from('')]),
    ]);
    assert.deepEqual(parseAll([input]), [
      ['SET', 'k', 'v\r\nx'],
      ['GET', ''],
    ]);
  });

  it('parses inline commands with quotes, and ignores empty lines and empty multibulks', () => {
    assert.deepEqual(
      parseAll([Buffer.from('\r\nset "a b" \'c\\\'d\' "\\x41\\n"\r\nPING\n*0\r\n*-1\r\nECHO x\r\n')]),
      [['set', 'a b', "c'd", 'A\n'], ['PING'], ['ECHO', 'x']],
    );
  });

  it('answers Redis protocol errors and then stays failed', () => {
    const cases: [string, string][] = [
      ['*1\r\n+PING\r\n', "expected '$', got '+'"],
      ['*x\r\n', 'invalid multibulk length'],
      ['*1\r\n$-3\r\n', 'invalid bulk length'],
      ['*1\r\n$abc\r\n', 'invalid bulk length'],
      ['*1\r\n$3\r\nabcde', 'expected CRLF after a bulk string'],
      ['set "a\r\n', 'unbalanced quotes in request'],
      ['set "a"b\r\n', 'unbalanced quotes in request'],
      [`*${DEFAULT_LIMITS.maxArgs + 1}\r\n`, 'invalid multibulk length'],
      [`*1\r\n$${DEFAULT_LIMITS.maxBulkBytes + 1}\r\n`, 'invalid bulk length'],
    ];
    for (const [input, reason] of cases) {
      const parser = new RespParser(DEFAULT_LIMITS);
      assert.deepEqual(parseAll([Buffer.from(input)], parser), { error: reason, before: [] }, input);
      parser.push(Buffer.from('PING\r\n'));
      assert.deepEqual(parser.next(), { protocolError: reason });
    }
  });

  it('bounds lines without a newline', () => {
    const limits = { ...DEFAULT_LIMITS, maxInlineBytes: 16 };
    assert.deepEqual(parseAll([Buffer.from('x'.repeat(17))], new RespParser(limits)), {
      error: 'too big inline request',
      before: [],
    });
    assert.deepEqual(parseAll([Buffer.from(`*${'1'.repeat(17)}`)], new RespParser(limits)), {
      error: 'too big mbulk count string',
      before: [],
    });
    assert.deepEqual(parseAll([Buffer.from(`*1\r\n$${'1'.repeat(17)}`)], new RespParser(limits)), {
      error: 'too big bulk count string',
      before: [],
    });
    // Up to the limit, waiting is right: the rest may come.
    assert.deepEqual(parseAll([Buffer.from('x'.repeat(16))], new RespParser(limits)), []);
  });

  it('bounds the query buffer', () => {
    const limits = { ...DEFAULT_LIMITS, maxQueryBufferBytes: 1000 };
    const parser = new RespParser(limits);
    const out = parseAll(
      [Buffer.from('*2\r\n$3\r\nSET\r\n$900\r\n'), Buffer.alloc(500), Buffer.alloc(500)],
      parser,
    );
    assert.deepEqual(out, { error: 'query buffer limit exceeded', before: [] });
  });

  it('applies the smaller limits before authentication', () => {
    const parser = new RespParser(DEFAULT_LIMITS);
    parser.authenticated = false;
    assert.deepEqual(parseAll([Buffer.from('*11\r\n')], parser), {
      error: 'unauthenticated multibulk length',
      before: [],
    });
    const p2 = new RespParser(DEFAULT_LIMITS);
    p2.authenticated = false;
    assert.deepEqual(parseAll([Buffer.from(`*1\r\n$${16 * 1024 + 1}\r\n`)], p2), {
      error: 'unauthenticated bulk length',
      before: [],
    });
    const p3 = new RespParser(DEFAULT_LIMITS);
    p3.authenticated = false;
    assert.deepEqual(parseAll([Buffer.from('AUTH a b c d e f g h i j k\r\n')], p3), {
      error: 'unauthenticated multibulk length',
      before: [],
    });
  });

  it('assembles a large bulk string sent in many small chunks', () => {
    const value = Buffer.alloc(200_000, 7);
    const input = multibulk([Buffer.from('SET'), Buffer.from('k'), value]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; i += 1000) chunks.push(input.subarray(i, i + 1000));
    const parser = new RespParser(DEFAULT_LIMITS);
    let got: Buffer[] | undefined;
    for (const c of chunks) {
      parser.push(c);
      const n = parser.next();
      if (n !== undefined) {
        assert.ok(Array.isArray(n));
        got = n;
      }
      // Held memory stays near one copy of the value, never one per chunk.
      assert.ok(parser.bufferedBytes <= value.length + 2 + 1000, `buffered ${parser.bufferedBytes}`);
    }
    assert.ok(got !== undefined);
    assert.equal(got.length, 3);
    assert.ok(got[2]!.equals(value));
  });

  it('returns one command at a time and keeps the rest for later', () => {
    const parser = new RespParser(DEFAULT_LIMITS);
    parser.push(Buffer.from('PING\r\nPING\r\n*1\r\n$4\r\nPI'));
    assert.ok(Array.isArray(parser.next()));
    assert.equal(parser.midCommand, true);
    assert.ok(Array.isArray(parser.next()));
    assert.equal(parser.next(), undefined);
    parser.push(Buffer.from('NG\r\n'));
    assert.deepEqual(
      (parser.next() as Buffer[]).map((b) => b.toString()),
      ['PING'],
    );
    assert.equal(parser.midCommand, false);
  });

  it('property: any split of a valid stream parses the same as the whole', async () => {
    const arg = fc.uint8Array({ maxLength: 40 });
    const command = fc.array(arg, { minLength: 1, maxLength: 6 });
    const inlineCommand = fc.array(fc.stringMatching(/^[a-zA-Z0-9:_-]{1,8}$/), {
      minLength: 1,
      maxLength: 4,
    });
    const item = fc.oneof(
      command.map((args) => ({
        bytes: multibulk(args),
        args: args.map((a) => Buffer.from(a).toString('latin1')),
      })),
      inlineCommand.map((args) => ({ bytes: Buffer.from(`${args.join(' ')}\r\n`), args })),
    );
    await checkProperty(
      FILE,
      fc.property(fc.array(item, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (items, cuts) => {
        const whole = Buffer.concat(items.map((i) => i.bytes));
        const expected = items.map((i) => i.args);
        assert.deepEqual(parseAll([whole]), expected);
        assert.deepEqual(parseAll(split(whole, cuts)), expected);
      }),
      300,
    );
  });

  it('property: random bytes never throw, and a failure is final', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // Mostly-valid RESP with damage: headers and CRLFs in random places.
      fc
        .array(fc.constantFrom('*', '$', '\r\n', '1', '3', '-', 'x', ' ', '"', "'", '\\', '0'), {
          maxLength: 60,
        })
        .map((parts) => Buffer.from(parts.join(''))),
    );
    await checkProperty(
      FILE,
      fc.property(junk, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const small = {
          ...DEFAULT_LIMITS,
          maxInlineBytes: 32,
          maxArgs: 8,
          maxBulkBytes: 64,
          maxQueryBufferBytes: 256,
        };
        const parser = new RespParser(small);
        const out = parseAll(split(Buffer.from(bytes), cuts), parser);
        if (!Array.isArray(out)) assert.deepEqual(parser.next(), { protocolError: out.error });
        assert.ok(parser.bufferedBytes <= 256 + 64);
      }),
      500,
    );
  });
});

describe('splitInlineArgs', () => {
  it("splits like Redis's sdssplitargs", () => {
    const s = (x: string) => splitInlineArgs(Buffer.from(x))?.map((b) => b.toString('latin1'));
    assert.deepEqual(s('  a   b  '), ['a', 'b']);
    assert.deepEqual(s('"a\\tb" \'x y\''), ['a\tb', 'x y']);
    assert.deepEqual(s('a"b c"d'), undefined); // closing quote followed by a non-blank
    assert.deepEqual(s('a"b c" d'), ['ab c', 'd']);
    assert.deepEqual(s('""'), ['']);
    assert.deepEqual(s('"\\xzz"'), ['xzz']);
    assert.deepEqual(s("'unterminated"), undefined);
    assert.deepEqual(s(''), []);
  });
});
