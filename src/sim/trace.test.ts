import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Fnv64 } from '../core/index.js';
import { TraceHash } from './trace.js';

describe('TraceHash', () => {
  it('is bit for bit core Fnv64 (trace hashes do not change)', () => {
    assert.equal(new TraceHash().hex(), new Fnv64().hex());
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 300 }) }),
            fc.record({ kind: fc.constant('word' as const), v: fc.nat({ max: 0xffffffff }) }),
            fc.record({
              kind: fc.constant('number' as const),
              v: fc.double({ min: 0, max: 2e12, noNaN: true }),
            }),
          ),
          { maxLength: 20 },
        ),
        (ops) => {
          const a = new TraceHash();
          const b = new Fnv64();
          for (const op of ops) {
            if (op.kind === 'bytes') {
              a.bytes(op.v);
              b.bytes(op.v);
            } else if (op.kind === 'word') {
              a.word(op.v);
              b.word(op.v);
            } else {
              a.number(op.v);
              b.number(op.v);
            }
          }
          assert.equal(a.hex(), b.hex());
        },
      ),
      { numRuns: 300 },
    );
  });
});
