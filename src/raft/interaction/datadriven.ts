/**
 * The transcript file format: a sequence of test cases, each a command line, a `----` separator
 * and the expected output, ended by a blank line (the shape of cockroachdb's `datadriven`, which
 * etcd-io/raft's interaction tests use).
 *
 * ```text
 * # a comment, kept verbatim on rewrite
 * campaign 1
 * ----
 * ok
 *
 * stabilize
 * ----
 * ----
 * output that contains

 * a blank line uses a doubled separator and ends with one
 * ----
 * ----
 * ```
 *
 * Everything that is not a case (comments, blank lines) is kept as text, so {@link formatTranscript}
 * reproduces a parsed file byte for byte when every case's output is unchanged; that is what the
 * rewrite mode relies on.
 */

/** One command with its expected output. `line` is 1-based, for messages that point at the file. */
export interface TranscriptCase {
  readonly kind: 'case';
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/** Text between cases (comments and blank lines), kept verbatim. */
export interface TranscriptText {
  readonly kind: 'text';
  readonly lines: readonly string[];
}

export type TranscriptChunk = TranscriptCase | TranscriptText;

/** A parse error names the file line. */
export class TranscriptSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'TranscriptSyntaxError';
  }
}

const SEPARATOR = '----';

/**
 * Splits a transcript into chunks. A case starts at any line that is neither blank nor a `#`
 * comment; the next line must be `----`. A case without output (`----` followed by a blank line or
 * the end of the file) expects the empty string.
 */
export function parseTranscript(text: string): TranscriptChunk[] {
  const lines = text.split('\n');
  // A trailing newline yields one empty last element; it belongs to no chunk.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const chunks: TranscriptChunk[] = [];
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length > 0) chunks.push({ kind: 'text', lines: pending });
    pending = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      pending.push(line);
      i++;
      continue;
    }
    flush();
    const start = i + 1;
    const command = line.trim();
    if (lines[i + 1] !== SEPARATOR)
      throw new TranscriptSyntaxError(start, `expected "${SEPARATOR}" after "${command}"`);
    i += 2;
    const output: string[] = [];
    if (lines[i] === SEPARATOR) {
      // Doubled separator: the output runs until a "----\n----" pair and may contain blank lines.
      i++;
      for (;;) {
        if (i >= lines.length)
          throw new TranscriptSyntaxError(start, 'unterminated doubled-separator output');
        if (lines[i] === SEPARATOR && lines[i + 1] === SEPARATOR) {
          i += 2;
          break;
        }
        output.push(lines[i]!);
        i++;
      }
    } else {
      while (i < lines.length && lines[i]!.trim() !== '') {
        output.push(lines[i]!);
        i++;
      }
    }
    chunks.push({ kind: 'case', line: start, command, expected: output.join('\n') });
  }
  flush();
  return chunks;
}

/** Writes one case: the doubled separator form when the output has a blank line. */
export function formatCase(command: string, output: string): string {
  const body = output === '' ? '' : `${output}\n`;
  const needsDouble = output.split('\n').some((l) => l.trim() === '') && output !== '';
  if (needsDouble) return `${command}\n${SEPARATOR}\n${SEPARATOR}\n${body}${SEPARATOR}\n${SEPARATOR}\n`;
  return `${command}\n${SEPARATOR}\n${body}`;
}

/**
 * Writes chunks back as a file, each case's output taken from `outputs` (by chunk position) when
 * given, else its expected output. A case is always followed by a blank line before the next case
 * unless the text after it already starts with one.
 */
export function formatTranscript(
  chunks: readonly TranscriptChunk[],
  outputs?: ReadonlyMap<number, string>,
): string {
  let out = '';
  chunks.forEach((chunk, k) => {
    if (chunk.kind === 'text') {
      out += chunk.lines.map((l) => `${l}\n`).join('');
      return;
    }
    out += formatCase(chunk.command, outputs?.get(k) ?? chunk.expected);
    const next = chunks[k + 1];
    const nextStartsBlank = next?.kind === 'text' && next.lines[0]?.trim() === '';
    if (next !== undefined && !nextStartsBlank) out += '\n';
  });
  return out;
}

/**
 * Directives read from a transcript's leading comment block: `# todo: reason` marks the file as a
 * known failure (the run is reported, not counted), for a core bug the transcript documents with
 * the correct expected output.
 */
export function transcriptDirectives(chunks: readonly TranscriptChunk[]): { todo?: string } {
  const first = chunks[0];
  if (first?.kind !== 'text') return {};
  for (const line of first.lines) {
    const m = /^#\s*todo:\s*(.+)$/.exec(line);
    if (m) return { todo: m[1]!.trim() };
  }
  return {};
}
