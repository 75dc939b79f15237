import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNodeName, NODE_NAME_MAX_LENGTH } from '../membership/node-name.js';
import { CONFIG_FIELDS } from './config-fields.js';

describe('node names', () => {
  it('are the printable charset the agent config accepts, and nothing else', () => {
    const check = CONFIG_FIELDS.find((f) => f.path === 'name')?.check;
    assert.ok(check !== undefined, 'the config has a name field');
    const config = (name: string) => {
      try {
        check(name);
        return true;
      } catch {
        return false;
      }
    };
    const names = [
      'node-1',
      'a.b_c',
      '9',
      'x'.repeat(NODE_NAME_MAX_LENGTH),
      'x'.repeat(NODE_NAME_MAX_LENGTH + 1),
      '',
      '-lead',
      'new\nline',
      'esc\u001b[2J',
      'sp ace',
      'ünï',
    ];
    for (const name of names) assert.equal(isNodeName(name), config(name), JSON.stringify(name));
    assert.deepEqual(
      names.filter((n) => isNodeName(n)),
      ['node-1', 'a.b_c', '9', 'x'.repeat(NODE_NAME_MAX_LENGTH)],
    );
  });
});
