import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intOption, numberOption } from './_args.js';

describe('bench options', () => {
  it('takes integers in range and refuses the rest by name', () => {
    assert.equal(intOption('clients', '50', 1, 100), 50);
    assert.equal(intOption('keyspace', '0', 0, 10), 0);
    for (const bad of [undefined, '', ' ', 'x', '1.5', '0', '101', '1e400', 'NaN']) {
      assert.throws(() => intOption('clients', bad, 1, 100), /--clients must be an integer 1\.\.100/);
    }
  });

  it('takes finite numbers in range', () => {
    assert.equal(numberOption('loss', '0.25', 0, 1), 0.25);
    for (const bad of [undefined, '', 'Infinity', '-0.1', '1.01', 'abc']) {
      assert.throws(() => numberOption('loss', bad, 0, 1), /--loss must be a number 0\.\.1/);
    }
  });
});
