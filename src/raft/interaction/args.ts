/**
 * Command-line parsing for transcripts: `name arg key=value key=(a,b) (1,2)`.
 *
 * A token is a bare value, a parenthesised list, or `key=` either of those. Values are strings;
 * the typed accessors on {@link CommandArgs} convert and name the bad argument when they cannot.
 */

/** One argument: `key` is undefined for a positional one; `values` has one element unless a list. */
export interface Arg {
  readonly key: string | undefined;
  readonly values: readonly string[];
  readonly list: boolean;
}

/** Thrown for a malformed command; the interpreter reports it as the case's output. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

function splitTokens(line: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of line) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new CommandError(`unbalanced ")" in "${line}"`);
    if (/\s/.test(ch) && depth === 0) {
      if (current !== '') tokens.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new CommandError(`unbalanced "(" in "${line}"`);
  if (current !== '') tokens.push(current);
  return tokens;
}

function parseValue(text: string): { values: string[]; list: boolean } {
  if (text.startsWith('(') && text.endsWith(')')) {
    const inner = text.slice(1, -1).trim();
    const values = inner === '' ? [] : inner.split(',').map((s) => s.trim());
    return { values, list: true };
  }
  return { values: [text], list: false };
}

/** A parsed command line. */
export class CommandArgs {
  private readonly used = new Set<number>();

  private constructor(
    readonly name: string,
    readonly args: readonly Arg[],
  ) {}

  /** Parses `line`; throws {@link CommandError} when it is empty or its parentheses do not balance. */
  static parse(line: string): CommandArgs {
    const [name, ...rest] = splitTokens(line);
    if (name === undefined) throw new CommandError('empty command');
    const args = rest.map((token): Arg => {
      const eq = token.indexOf('=');
      const paren = token.indexOf('(');
      if (eq > 0 && (paren === -1 || eq < paren)) {
        return { key: token.slice(0, eq), ...parseValue(token.slice(eq + 1)) };
      }
      return { key: undefined, ...parseValue(token) };
    });
    return new CommandArgs(name, args);
  }

  /** The positional arguments (not lists), in order. */
  positional(): string[] {
    const out: string[] = [];
    this.args.forEach((a, i) => {
      if (a.key === undefined && !a.list) {
        this.used.add(i);
        out.push(a.values[0]!);
      }
    });
    return out;
  }

  /** The positional lists, e.g. the groups of `partition (1,2) (3)`. */
  positionalLists(): string[][] {
    const out: string[][] = [];
    this.args.forEach((a, i) => {
      if (a.key === undefined && a.list) {
        this.used.add(i);
        out.push([...a.values]);
      }
    });
    return out;
  }

  private find(key: string): Arg | undefined {
    const i = this.args.findIndex((a) => a.key === key);
    if (i === -1) return undefined;
    this.used.add(i);
    return this.args[i];
  }

  has(key: string): boolean {
    return this.args.some((a) => a.key === key);
  }

  /** `key=value` as a string, or undefined when absent. */
  string(key: string): string | undefined {
    const a = this.find(key);
    if (a === undefined) return undefined;
    if (a.list) throw new CommandError(`${key}: expected one value, got a list`);
    return a.values[0];
  }

  /** `key=N` as a non-negative integer. */
  int(key: string): number | undefined {
    const s = this.string(key);
    return s === undefined ? undefined : toInt(s, key);
  }

  /** `key=true|false`. */
  bool(key: string): boolean | undefined {
    const s = this.string(key);
    if (s === undefined) return undefined;
    if (s !== 'true' && s !== 'false') throw new CommandError(`${key}: expected true or false, got "${s}"`);
    return s === 'true';
  }

  /** `key=(1,2,3)` (or `key=1`) as integers. */
  ints(key: string): number[] | undefined {
    const a = this.find(key);
    if (a === undefined) return undefined;
    return a.values.map((v) => toInt(v, key));
  }

  /** Throws when an argument was given that no accessor asked for (a typo must not pass silently). */
  checkAllUsed(): void {
    const unused = this.args.filter((_, i) => !this.used.has(i));
    if (unused.length > 0) {
      const names = unused.map((a) => (a.key === undefined ? a.values.join(',') : `${a.key}=`));
      throw new CommandError(`${this.name}: unexpected argument(s) ${names.join(' ')}`);
    }
  }
}

/** Parses a non-negative safe integer, naming `what` when it is not one. */
export function toInt(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new CommandError(`${what}: expected a non-negative integer, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new CommandError(`${what}: ${text} is too large`);
  return n;
}
