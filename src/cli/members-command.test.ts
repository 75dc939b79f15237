import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberJson } from '../node/members-http.js';
import { formatMembersTable } from './members-command.js';

const member = (name: string, over: Partial<MemberJson> = {}): MemberJson => ({
  id: `${name.length.toString(16).padStart(2, '0')}${'a'.repeat(62)}`,
  name,
  address: '127.0.0.1:7100',
  state: 'alive',
  incarnation: 0,
  generation: 1,
  metadata: {},
  local: false,
  ...over,
});

describe('cairn members table', () => {
  it('a member named with escape sequences and a newline cannot forge a row', () => {
    const forged = 'evil\x1b[1A\x1b[2K\nnode-9 *  ffffffff  alive  10.0.0.9:7100  0  -';
    const text = formatMembersTable({
      node: 'x',
      members: [
        member('node-0', { local: true }),
        member(forged, { metadata: { 'k\ney': 'v\x1b]0;owned\x07', zone: { base64: 'AAE=' } } }),
        member('node-1', { address: '10.0.0.1:7100\r\n' }),
      ],
    });
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 5, `a header, 3 rows and the count:\n${text}`);
    assert.match(lines[2]!, /^evil\\x1b\[1A\\x1b\[2K\\nnode-9 \* {2}ffffffff/);
    assert.match(lines[2]!, /k\\ney=v\\x1b\]0;owned\\x07 zone=base64:AAE=$/);
    assert.match(lines[3]!, /10\.0\.0\.1:7100\\r\\n/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for control characters is the point
    assert.doesNotMatch(text.replaceAll('\n', ''), /[\u0000-\u001f\u007f-\u009f]/);
    assert.equal(lines[4], '3 members: 3 alive (* = the node asked)');
  });
});
