/**
 * Splits an inline command line into arguments the way Redis's `sdssplitargs` does (what
 * `telnet` and `nc` users type): blanks separate arguments; `"..."` takes the escapes `\n \r \t
 * \b \a \\ \"` and `\xHH`; `'...'` takes `\'`; a closing quote must be followed by a blank or the
 * end of the line. Returns `undefined` for unbalanced quotes (Redis's "unbalanced quotes in
 * request" protocol error).
 *
 * @param line - the line's bytes without its CR LF
 */
export function splitInlineArgs(line: Uint8Array): Buffer[] | undefined {
  const args: Buffer[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    while (i < n && isBlank(line[i]!)) i++;
    if (i >= n) return args;
    const out: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      if (inDouble) {
        if (i >= n) return undefined;
        const c = line[i]!;
        if (c === BACKSLASH && i + 3 < n && line[i + 1] === X && isHex(line[i + 2]!) && isHex(line[i + 3]!)) {
          out.push(hexValue(line[i + 2]!) * 16 + hexValue(line[i + 3]!));
          i += 3;
        } else if (c === BACKSLASH && i + 1 < n) {
          i++;
          out.push(escapedByte(line[i]!));
        } else if (c === DOUBLE_QUOTE) {
          if (i + 1 < n && !isBlank(line[i + 1]!)) return undefined;
          done = true;
        } else out.push(c);
        i++;
      } else if (inSingle) {
        if (i >= n) return undefined;
        const c = line[i]!;
        if (c === BACKSLASH && i + 1 < n && line[i + 1] === SINGLE_QUOTE) {
          i++;
          out.push(SINGLE_QUOTE);
        } else if (c === SINGLE_QUOTE) {
          if (i + 1 < n && !isBlank(line[i + 1]!)) return undefined;
          done = true;
        } else out.push(c);
        i++;
      } else if (i >= n) {
        done = true;
      } else {
        const c = line[i]!;
        if (c === SPACE || c === LF || c === CR || c === TAB || c === 0) done = true;
        else if (c === DOUBLE_QUOTE) inDouble = true;
        else if (c === SINGLE_QUOTE) inSingle = true;
        else out.push(c);
        i++;
      }
    }
    args.push(Buffer.from(out));
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const X = 0x78;

/** C's isspace. */
function isBlank(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function hexValue(c: number): number {
  if (c <= 0x39) return c - 0x30;
  return (c | 0x20) - 0x61 + 10;
}

function escapedByte(c: number): number {
  switch (c) {
    case 0x6e:
      return LF;
    case 0x72:
      return CR;
    case 0x74:
      return TAB;
    case 0x62:
      return 0x08;
    case 0x61:
      return 0x07;
    default:
      return c;
  }
}
