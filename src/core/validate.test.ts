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
});
