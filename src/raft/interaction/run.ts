import { CommandArgs, CommandError } from './args.js';
import { runCommand } from './commands.js';
import { parseTranscript, type TranscriptCase, type TranscriptChunk } from './datadriven.js';
import { InteractionEnv, type InteractionFactory } from './env.js';

/** One case whose actual output differs from the expected one. */
export interface CaseResult {
  readonly case: TranscriptCase;
  readonly actual: string;
}

/** The outcome of running one transcript. */
export interface TranscriptRun {
  readonly chunks: TranscriptChunk[];
  /** Actual output by chunk position, for rewriting the file. */
  readonly outputs: Map<number, string>;
  readonly mismatches: CaseResult[];
}

/**
 * Runs one command line against `env` and returns its output: what the environment wrote, `ok`
 * when it wrote nothing, or `error: ...` for a malformed command.
 */
export function runLine(env: InteractionEnv, line: string): string {
  try {
    runCommand(env, CommandArgs.parse(line));
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const partial = env.takeOutput();
    return partial === '' ? `error: ${err.message}` : `${partial}\nerror: ${err.message}`;
  }
  const text = env.takeOutput();
  return text === '' ? 'ok' : text;
}

/**
 * Runs every case of a transcript in a fresh environment, in order, and compares each output with
 * the expected one. An exception other than a command error (a bug in the interpreter or a core
 * that throws where its contract says it must not) stops the run and propagates, naming the line.
 */
export function runTranscript(text: string, factory: InteractionFactory): TranscriptRun {
  const chunks = parseTranscript(text);
  const env = new InteractionEnv(factory);
  const outputs = new Map<number, string>();
  const mismatches: CaseResult[] = [];
  chunks.forEach((chunk, k) => {
    if (chunk.kind !== 'case') return;
    let actual: string;
    try {
      actual = runLine(env, chunk.command);
    } catch (err) {
      throw new Error(`line ${chunk.line} (${chunk.command}): ${(err as Error).message}`, { cause: err });
    }
    outputs.set(k, actual);
    if (actual !== chunk.expected) mismatches.push({ case: chunk, actual });
  });
  return { chunks, outputs, mismatches };
}
