import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeConfChange } from '../core/conf-change.js';
import { RaftCore } from '../core/raft-core.js';
import { MemoryRaftLog } from '../memory-log.js';
import { formatTranscript, parseTranscript, transcriptDirectives } from './datadriven.js';
import type { InteractionFactory } from './env.js';
import { runTranscript } from './run.js';

/**
 * Runs every transcript in `src/raft/testdata/` against the raft core and compares each command's
 * output with the one written in the file. With `CAIRN_REWRITE=1` the files are rewritten with
 * the actual outputs instead (then read the diff: a transcript records what the core did, and is
 * only evidence once a person has checked it against the Raft paper).
 *
 * Run: `node --import tsx --test src/raft/interaction/transcripts.test.ts`
 * One file: `CAIRN_TRANSCRIPT=basic_election node --import tsx --test src/raft/interaction/transcripts.test.ts`
 */

const TESTDATA = fileURLToPath(new URL('../testdata/', import.meta.url));
const REWRITE = process.env.CAIRN_REWRITE === '1';
const ONLY = process.env.CAIRN_TRANSCRIPT;

const factory: InteractionFactory = {
  createLog: () => new MemoryRaftLog(),
  createCore: (config) => new RaftCore(config),
  decodeConfChange,
};

const files = readdirSync(TESTDATA)
  .filter((f) => f.endsWith('.txt'))
  .filter((f) => ONLY === undefined || f === ONLY || f === `${ONLY}.txt`)
  .sort();

describe('raft interaction transcripts', () => {
  it('finds the transcripts', () => {
    assert.ok(files.length > 0, `no transcript in ${TESTDATA}${ONLY ? ` named ${ONLY}` : ''}`);
  });

  for (const file of files) {
    const path = join(TESTDATA, file);
    const text = readFileSync(path, 'utf8');
    const { todo } = directivesOf(text);
    it(file, todo !== undefined ? { todo } : {}, () => {
      const run = runTranscript(text, factory);
      // A todo file holds hand-corrected expectations for a known core bug: never overwrite them.
      if (REWRITE && todo === undefined) {
        const next = formatTranscript(run.chunks, run.outputs);
        if (next !== text) writeFileSync(path, next);
        return;
      }
      const first = run.mismatches[0];
      if (first === undefined) return;
      const where = `${file}:${first.case.line} "${first.case.command}" (${run.mismatches.length} case(s) differ; CAIRN_REWRITE=1 rewrites)`;
      assert.equal(first.actual, first.case.expected, where);
    });
  }
});

/** The file's directives; a file that does not parse has none (its test then fails on the parse). */
function directivesOf(text: string): { todo?: string } {
  try {
    return transcriptDirectives(parseTranscript(text));
  } catch {
    return {};
  }
}
