import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatCase,
  formatTranscript,
  parseTranscript,
  TranscriptSyntaxError,
  transcriptDirectives,
} from './datadriven.js';

const SAMPLE = `# todo: core bug 7
# a comment

campaign 1
----
ok

stabilize
----
> 1 handling Ready
  Ready MustSync=true:

# a comment between cases
raft-log 1
----
----
line one

line three
----
----

status 1
----
`;

describe('datadriven transcripts', () => {
  it('parses cases with their lines, outputs and comments', () => {
    const chunks = parseTranscript(SAMPLE);
    const cases = chunks.filter((c) => c.kind === 'case');
    assert.deepEqual(
      cases.map((c) => [c.line, c.command, c.expected]),
      [
        [4, 'campaign 1', 'ok'],
        [
          8,
          'stabilize',
          '> 1 handling Ready\n  Ready MustSync=true:\n# trailing comment\nraft-log 1'
            .split('\n')
            .slice(0, 2)
            .join('\n'),
        ],
        [14, 'raft-log 1', 'line one\n\nline three'],
        [23, 'status 1', ''],
      ].map(([l, c, e]) => [l, c, e]),
    );
  });

  it('writes a parsed file back byte for byte', () => {
    assert.equal(formatTranscript(parseTranscript(SAMPLE)), SAMPLE);
  });

  it('rewrites outputs in place, doubling the separator when one has a blank line', () => {
    const chunks = parseTranscript(SAMPLE);
    const first = chunks.findIndex((c) => c.kind === 'case');
    const rewritten = formatTranscript(chunks, new Map([[first, 'a\n\nb']]));
    assert.match(rewritten, /campaign 1\n----\n----\na\n\nb\n----\n----\n\nstabilize/);
    const again = parseTranscript(rewritten).filter((c) => c.kind === 'case');
    assert.equal(again[0]?.expected, 'a\n\nb');
  });

  it('separates a case from the next when no blank line follows it', () => {
    assert.equal(formatCase('x', 'ok'), 'x\n----\nok\n');
    const text = formatTranscript([
      { kind: 'case', line: 1, command: 'a', expected: 'ok' },
      { kind: 'case', line: 5, command: 'b', expected: 'ok' },
    ]);
    assert.equal(text, 'a\n----\nok\n\nb\n----\nok\n');
  });

  it('rejects a command without a separator and an unterminated doubled output', () => {
    assert.throws(() => parseTranscript('campaign 1\nok\n'), TranscriptSyntaxError);
    assert.throws(() => parseTranscript('x\n----\n----\nout\n'), /line 1: unterminated/);
  });

  it('reads the todo directive from the leading comments only', () => {
    assert.deepEqual(transcriptDirectives(parseTranscript(SAMPLE)), { todo: 'core bug 7' });
    assert.deepEqual(transcriptDirectives(parseTranscript('x\n----\nok\n\n# todo: late\n')), {});
  });
});
