import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { printable, printableLines } from './printable.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: checking for control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('printable', () => {
  it('escapes newlines, escape sequences, C1 controls and bidi overrides', () => {
    assert.equal(printable('a\nb\r\tc'), 'a\\nb\\r\\tc');
    assert.equal(printable('\x1b[2K\x1b]0;title\x07'), '\\x1b[2K\\x1b]0;title\\x07');
    assert.equal(printable('\x7f\x9b31m'), '\\x7f\\x9b31m');
    assert.equal(printable('user\u202egnp.exe'), 'user\\u202egnp.exe');
    assert.equal(printable('a\u2028b\u2029c'), 'a\\u2028b\\u2029c');
  });

  it('leaves printable text alone, non-ASCII letters included', () => {
    for (const text of [
      'node-1',
      'nœud-1',
      '東京-2',
      '127.0.0.1:7100',
      '[::1]:7100',
      'path\\with\\backslashes',
    ])
      assert.equal(printable(text), text);
  });

  it('never lets a control character through, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        assert.doesNotMatch(printable(text), UNSAFE);
      }),
    );
  });

  it("printableLines keeps the message's own line breaks and escapes inside each line", () => {
    assert.equal(printableLines('exited:\n\x1b[31mred\rX'), 'exited:\n\\x1b[31mred\\rX');
  });
});
