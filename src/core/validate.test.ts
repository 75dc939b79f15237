import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { type Validator, v } from './validate.js';

/** `depth` objects nested under the key `k`. */
function nestedObjects(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) value = { k: value };
  return value;
}

describe('validators', () => {
  it('bound the nesting depth of records as of arrays and objects', () => {
    const tree: Validator<unknown> = (value, path) => v.record(tree, { maxKeys: 4 })(value, path);
    assert.deepEqual(tree(nestedObjects(3)), nestedObjects(3));
    assert.doesNotThrow(() => tree(nestedObjects(DEFAULT_LIMITS.maxValidateDepth)));
    // Deep enough to exhaust the stack if records were followed without a bound.
    assert.throws(
      () => tree(nestedObjects(100_000)),
      (err) => isCairnError(err, 'DECODE_FAILED') && /less deeply nested input/.test(err.message),
    );
  });

  it('keep what item validators return in arrays and tuples (unknown fields dropped, copies kept)', () => {
    const item = v.object({ a: v.uint() });
    const copy: Validator<Uint8Array> = (value, path) =>
      new Uint8Array(v.bytes({ maxLength: 8 })(value, path));
    const arr = v.array(item, { maxLength: 4 })([{ a: 1, extra: 'x' }]);
    assert.deepEqual(arr, [{ a: 1 }]);
    const input = new Uint8Array([1, 2]);
    const [out] = v.tuple(copy)([input]);
    assert.notEqual(out, input, 'the copy, not the input view');
    assert.deepEqual(out, input);
  });
});
