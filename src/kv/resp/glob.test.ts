import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Glob } from './glob.js';
import { checkProperty } from './test-seed.js';

const FILE = 'src/kv/resp/glob.test.ts';

/** The oracle: the pattern (without classes and escapes) as an anchored regular expression. */
function regexFor(pattern: string): RegExp {
  const body = [...pattern].map((c) =>
    c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  );
  return new RegExp(`^${body.join('')}$`);
}

describe('Glob', () => {
  it("matches Redis's patterns", () => {
    const yes: [string, string][] = [
      ['*', ''],
      ['h?llo', 'hello'],
      ['h*llo', 'heeeello'],
      ['h[ae]llo', 'hallo'],
      ['h[^e]llo', 'hallo'],
      ['h[a-b]llo', 'hbllo'],
      ['h[b-a]llo', 'hallo'],
      ['user:*:name', 'user:42:name'],
      ['a\\*b', 'a*b'],
      ['[\\]]', ']'],
      ['a[bc', 'ab'], // an unclosed class takes the rest of the pattern
    ];
    const no: [string, string][] = [
      ['h?llo', 'hllo'],
      ['h[^e]llo', 'hello'],
      ['h[a-b]llo', 'hcllo'],
      ['a\\*b', 'axb'],
      ['user:*', 'users'],
    ];
    for (const [p, s] of yes) assert.equal(new Glob(p).matches(s), true, `${p} ~ ${s}`);
    for (const [p, s] of no) assert.equal(new Glob(p).matches(s), false, `${p} !~ ${s}`);
  });

  it('stays fast on patterns that are exponential for naive backtracking', () => {
    const g = new Glob(`${'*a'.repeat(30)}b`);
    assert.equal(g.matches('a'.repeat(5000)), false);
  });

  it('property: agrees with a regular-expression oracle on *, ? and literals', async () => {
    const alpha = fc.constantFrom('a', 'b', ':');
    await checkProperty(
      FILE,
      fc.property(
        fc.array(fc.oneof(alpha, fc.constantFrom('*', '?')), { maxLength: 8 }).map((a) => a.join('')),
        fc.array(alpha, { maxLength: 10 }).map((a) => a.join('')),
        (pattern, subject) => {
          assert.equal(
            new Glob(pattern).matches(subject),
            regexFor(pattern).test(subject),
            `${pattern} vs ${subject}`,
          );
        },
      ),
      1000,
    );
  });
});
