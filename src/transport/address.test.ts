import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError } from '../core/index.js';
import { formatAddress, parseAddress, tryParseAddress } from './address.js';
import { decodeHello, encodeHello } from './net/hello.js';

describe('addresses', () => {
  it('parses IPv4, bracketed IPv6 and host names', () => {
    assert.deepEqual(parseAddress('127.0.0.1:7946'), { host: '127.0.0.1', port: 7946 });
    assert.deepEqual(parseAddress('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseAddress('node-1.example.com:1'), { host: 'node-1.example.com', port: 1 });
    assert.equal(formatAddress('::1', 80), '[::1]:80');
    assert.equal(formatAddress('10.0.0.1', 80), '10.0.0.1:80');
  });

  it('rejects malformed addresses with INVALID_ARGUMENT', () => {
    for (const bad of [
      '',
      '127.0.0.1',
      ':80',
      '127.0.0.1:',
      '127.0.0.1:65536',
      '127.0.0.1:0',
      '::1:80',
      '[::1]80',
      'a b:1',
      '1.2.3.4:-1',
    ]) {
      assert.equal(tryParseAddress(bad), undefined, bad);
      assert.throws(
        () => parseAddress(bad),
        (err) => isCairnError(err, 'INVALID_ARGUMENT'),
      );
    }
    assert.deepEqual(tryParseAddress('127.0.0.1:0', true), { host: '127.0.0.1', port: 0 });
  });

  it('round-trips formatted IPv4 and IPv6 addresses (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const parsed = parseAddress(formatAddress(host, port));
        assert.equal(parsed.port, port);
        assert.equal(formatAddress(parsed.host, parsed.port), formatAddress(host, port));
      }),
    );
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => void tryParseAddress(text)));
  });
});

describe('hello frame', () => {
  it('round-trips an address and rejects anything else without throwing', () => {
    assert.equal(decodeHello(encodeHello('127.0.0.1:7946')), '127.0.0.1:7946');
    assert.equal(decodeHello(Uint8Array.of(2, 0x31)), undefined);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void decodeHello(bytes)));
  });
});
