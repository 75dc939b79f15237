/**
 * Redis's glob patterns (SCAN MATCH, CONFIG GET, COMMAND LIST FILTERBY PATTERN) over bytes:
 * `*` any run, `?` any one byte, `[abc]`, `[^abc]`, `[a-z]` a class, `\x` the byte x literally.
 * An unclosed `[` takes the rest of the pattern as its class, as Redis's stringmatchlen does.
 *
 * Matching is the two-pointer algorithm with one backtrack point per `*`, so it costs at most
 * pattern length times subject length steps: no hostile pattern can make it exponential (Redis
 * itself needed a nesting limit for that).
 */

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'byte'; readonly value: number }
  | {
      readonly kind: 'class';
      readonly negate: boolean;
      readonly ranges: readonly (readonly [number, number])[];
    };

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/** A compiled glob pattern. */
export class Glob {
  private readonly tokens: Token[];

  /** @param pattern - the pattern's bytes (or text, taken as UTF-8) */
  constructor(pattern: Uint8Array | string) {
    this.tokens = compile(typeof pattern === 'string' ? Buffer.from(pattern, 'utf8') : pattern);
  }

  /** Whether `subject` matches the whole pattern. */
  matches(subject: Uint8Array | string): boolean {
    const s = typeof subject === 'string' ? Buffer.from(subject, 'utf8') : subject;
    const t = this.tokens;
    let ti = 0;
    let si = 0;
    let starTi = -1;
    let starSi = 0;
    while (si < s.length) {
      const tok = t[ti];
      if (tok !== undefined && tok.kind === 'star') {
        starTi = ti++;
        starSi = si;
      } else if (tok !== undefined && matchOne(tok, s[si]!)) {
        ti++;
        si++;
      } else if (starTi >= 0) {
        ti = starTi + 1;
        si = ++starSi;
      } else return false;
    }
    while (ti < t.length && t[ti]!.kind === 'star') ti++;
    return ti === t.length;
  }
}

function matchOne(tok: Token, c: number): boolean {
  switch (tok.kind) {
    case 'any':
      return true;
    case 'byte':
      return tok.value === c;
    case 'class': {
      let hit = false;
      for (const [lo, hi] of tok.ranges) if (c >= lo && c <= hi) hit = true;
      return hit !== tok.negate;
    }
    case 'star':
      return false;
  }
}

function compile(p: Uint8Array): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === STAR) {
      if (out[out.length - 1]?.kind !== 'star') out.push({ kind: 'star' });
      i++;
    } else if (c === QUESTION) {
      out.push({ kind: 'any' });
      i++;
    } else if (c === BACKSLASH && i + 1 < p.length) {
      out.push({ kind: 'byte', value: p[i + 1]! });
      i += 2;
    } else if (c === OPEN) {
      i = compileClass(p, i + 1, out);
    } else {
      out.push({ kind: 'byte', value: c });
      i++;
    }
  }
  return out;
}

/** Compiles a class starting after its `[`; returns the index after its `]`. */
function compileClass(p: Uint8Array, i: number, out: Token[]): number {
  let negate = false;
  if (p[i] === CARET) {
    negate = true;
    i++;
  }
  const ranges: [number, number][] = [];
  while (i < p.length && p[i] !== CLOSE) {
    if (p[i] === BACKSLASH && i + 1 < p.length) {
      ranges.push([p[i + 1]!, p[i + 1]!]);
      i += 2;
    } else if (i + 2 < p.length && p[i + 1] === DASH && p[i + 2] !== CLOSE) {
      const a = p[i]!;
      const b = p[i + 2]!;
      ranges.push(a <= b ? [a, b] : [b, a]);
      i += 3;
    } else {
      ranges.push([p[i]!, p[i]!]);
      i++;
    }
  }
  out.push({ kind: 'class', negate, ranges });
  return i < p.length ? i + 1 : i;
}
