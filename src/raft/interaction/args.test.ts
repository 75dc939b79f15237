import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandArgs, CommandError } from './args.js';

describe('transcript command arguments', () => {
  it('parses positionals, keys, lists and positional lists', () => {
    const a = CommandArgs.parse('add-nodes 3 voters=(1, 2,3) learners=() index=10 prevote=false');
    assert.equal(a.name, 'add-nodes');
    assert.deepEqual(a.positional(), ['3']);
    assert.deepEqual(a.ints('voters'), [1, 2, 3]);
    assert.deepEqual(a.ints('learners'), []);
    assert.equal(a.int('index'), 10);
    assert.equal(a.bool('prevote'), false);
    assert.equal(a.int('missing'), undefined);
    a.checkAllUsed();
    const p = CommandArgs.parse('partition (1,2) (3)');
    assert.deepEqual(p.positionalLists(), [['1', '2'], ['3']]);
  });

  it('names what is wrong', () => {
    assert.throws(() => CommandArgs.parse('x (1,2'), CommandError);
    assert.throws(() => CommandArgs.parse('x 1)'), CommandError);
    assert.throws(() => CommandArgs.parse('   '), /empty command/);
    assert.throws(() => CommandArgs.parse('x n=-1').int('n'), /n: expected a non-negative integer/);
    assert.throws(() => CommandArgs.parse('x b=yes').bool('b'), /b: expected true or false/);
    assert.throws(() => CommandArgs.parse('x n=(1,2)').int('n'), /expected one value/);
  });

  it('refuses an argument no accessor read (a typo must not pass silently)', () => {
    const a = CommandArgs.parse('add-nodes 3 voter=(1,2,3)');
    a.positional();
    a.ints('voters');
    assert.throws(() => a.checkAllUsed(), /unexpected argument\(s\) voter=/);
  });
});
