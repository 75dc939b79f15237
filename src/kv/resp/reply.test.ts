import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  array,
  bulk,
  encodeReply,
  errorReply,
  intReply,
  map,
  NULL,
  OK,
  type Reply,
  ReplyBuffer,
} from './reply.js';

const enc = (r: Reply, proto: 2 | 3) => encodeReply(r, proto).toString('latin1');

describe('reply encoding', () => {
  it('writes the RESP2 and RESP3 forms', () => {
    const cases: [Reply, string, string][] = [
      [OK, '+OK\r\n', '+OK\r\n'],
      [intReply(5), ':5\r\n', ':5\r\n'],
      [intReply(-2), ':-2\r\n', ':-2\r\n'],
      [intReply(123456789012n), ':123456789012\r\n', ':123456789012\r\n'],
      [bulk('hé'), '$3\r\nh\xc3\xa9\r\n', '$3\r\nh\xc3\xa9\r\n'],
      [bulk(Buffer.from([0, 13, 10])), '$3\r\n\x00\r\n\r\n', '$3\r\n\x00\r\n\r\n'],
      [NULL, '$-1\r\n', '_\r\n'],
      [{ type: 'nullArray' }, '*-1\r\n', '_\r\n'],
      [array([bulk('a'), NULL]), '*2\r\n$1\r\na\r\n$-1\r\n', '*2\r\n$1\r\na\r\n_\r\n'],
      [map([[bulk('k'), intReply(1)]]), '*2\r\n$1\r\nk\r\n:1\r\n', '%1\r\n$1\r\nk\r\n:1\r\n'],
      [{ type: 'set', items: [bulk('x')] }, '*1\r\n$1\r\nx\r\n', '~1\r\n$1\r\nx\r\n'],
      [{ type: 'bool', value: true }, ':1\r\n', '#t\r\n'],
      [{ type: 'double', value: 1.5 }, '$3\r\n1.5\r\n', ',1.5\r\n'],
      [{ type: 'double', value: Number.POSITIVE_INFINITY }, '$3\r\ninf\r\n', ',inf\r\n'],
      [{ type: 'verbatim', format: 'txt', text: 'a' }, '$1\r\na\r\n', '=5\r\ntxt:a\r\n'],
    ];
    for (const [reply, two, three] of cases) {
      assert.equal(enc(reply, 2), two);
      assert.equal(enc(reply, 3), three);
    }
  });

  it('never lets an error text break the framing', () => {
    assert.equal(enc(errorReply('ERR a\r\nb'), 2), '-ERR a  b\r\n');
  });

  it('carves batches from slabs without ever overwriting a batch already taken', () => {
    const out = new ReplyBuffer();
    const taken: [Buffer, string][] = [];
    for (let i = 0; i < 500; i++) {
      const value = 'x'.repeat((i * 37) % 3000);
      out.write(bulk(value), 2);
      if (i % 3 === 0) out.write(OK, 2);
      taken.push([out.take(), `$${value.length}\r\n${value}\r\n${i % 3 === 0 ? '+OK\r\n' : ''}`]);
    }
    for (const [bytes, expected] of taken) assert.equal(bytes.toString('latin1'), expected);
  });

  it('grows past its initial size and starts over after take', () => {
    const out = new ReplyBuffer(8);
    const big = Buffer.alloc(1000, 1);
    out.write(bulk(big), 2);
    out.write(OK, 2);
    const first = out.take();
    assert.equal(first.length, 7 + 1000 + 2 + 5); // "$1000\r\n" value "\r\n" "+OK\r\n"
    assert.ok(first.subarray(7, 1007).equals(big));
    assert.equal(out.length, 0);
    out.write(OK, 3);
    assert.equal(out.take().toString(), '+OK\r\n');
    // The first batch is untouched by later writes (it may still be in a socket's queue).
    assert.equal(first.subarray(first.length - 5).toString(), '+OK\r\n');
  });
});
