/**
 * Escaping for human-readable output. Member names, metadata values, addresses and error texts
 * can come from peers and HTTP clients; printed raw, an escape sequence or a newline in one of
 * them rewrites a terminal, forges a row of a table or a line of a log. Every CLI table, message
 * and log field that carries such a string goes through {@link printable}.
 */

/**
 * Characters that change what a terminal or a line-oriented reader shows rather than being shown:
 * C0 controls (newline, carriage return, ESC ...), DEL, C1 controls (0x9b is a one-byte CSI),
 * the Unicode line and paragraph separators, and the bidirectional marks, embeddings, overrides
 * and isolates (they reorder the text around them). The backslash itself is left alone: text
 * that is already escaped (a JSON rendering in an error message) stays readable instead of doubled,
 * and a literal `\x1b` typed into a name is harmless. The exact bytes are what `--json` is for.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every character that could rewrite a terminal or forge a line escaped in the style
 * of a JavaScript string literal: `\n`, `\r`, `\t`, `\x1b`, `\u202e`. Printable text,
 * including non-ASCII letters, is unchanged, so ordinary names print as they are.
 *
 * @param text - a string that may come from a peer, an HTTP client or a file
 * @returns the same string, safe to print on one line of a terminal or a log
 * @example
 * ```ts
 * printable('node-1\x1b[2K\nnode-9 * fake'); // 'node-1\\x1b[2K\\nnode-9 * fake'
 * printable('nœud-1'); // 'nœud-1'
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeOne);
}

/**
 * A multi-line message with each line made {@link printable}: the line breaks the message itself
 * puts there (a log tail under an error) stay, everything else that could rewrite a terminal is
 * escaped.
 *
 * @param text - lines separated by `\n`
 * @example
 * ```ts
 * printableLines('node-1 exited:\n\x1b[31mred'); // 'node-1 exited:\n\\x1b[31mred'
 * ```
 */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
