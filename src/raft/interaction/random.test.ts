import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../../core/rng.js';
import { decodeConfChange } from '../core/conf-change.js';
import { RaftCore } from '../core/raft-core.js';
import { MemoryRaftLog } from '../memory-log.js';
import { formatCase } from './datadriven.js';
import { InteractionEnv, type InteractionFactory } from './env.js';
import { runLine } from './run.js';

/**
 * Random transcripts: scripts of random commands (elections, ticks, proposals, conf changes,
 * partial deliveries, drops, partitions, restarts, compactions, transfers, reads) run against the
 * core. Each script runs twice and must print the same trace both times (a transcript is only
 * worth writing down if it replays), and the environment's safety checks (one leader per term,
 * the same entry applied at each index everywhere) must stay silent.
 *
 * A failure prints the seed, the command that replays it, and the path of the script written as
 * a transcript file (drop it in `src/raft/testdata/` and run with CAIRN_REWRITE=1 to study it).
 *
 * Replay: `CAIRN_SEED=<seed> node --import tsx --test src/raft/interaction/random.test.ts`
 * More:   `CAIRN_LONG=1 node --import tsx --test src/raft/interaction/random.test.ts`
 */

const factory: InteractionFactory = {
  createLog: () => new MemoryRaftLog(),
  createCore: (config) => new RaftCore(config),
  decodeConfChange,
};

const NODES = [1, 2, 3, 4, 5];
const SCRIPTS = process.env.CAIRN_LONG === '1' ? 5000 : 100;
const COMMANDS_PER_SCRIPT = 150;

function pickSubset(rng: Rng, ids: readonly number[]): number[] {
  return ids.filter(() => rng.chance(0.5));
}

/** One random command line; ids 4 and 5 start outside the configuration. */
function randomCommand(rng: Rng, k: number): string {
  const id = rng.pick(NODES);
  const other = rng.pick(NODES);
  switch (rng.int(17)) {
    case 0:
      return `campaign ${id}`;
    case 1:
      return `tick ${id} ${1 + rng.int(25)}`;
    case 2:
    case 3:
      return `propose ${id} v${k}`;
    case 4:
      return `propose-conf-change ${id} ${rng.pick(['add', 'addLearner', 'remove'])}=${other}`;
    case 5:
    case 6:
      return `stabilize ${pickSubset(rng, NODES).join(' ')}`.trim();
    case 7:
      return `deliver-msgs ${id}`;
    case 8:
      return `process-ready ${id}`;
    case 9:
      return rng.chance(0.5) ? `drop to=${id}` : `drop from=${id} to=${other}`;
    case 10: {
      const a = pickSubset(rng, NODES);
      const b = NODES.filter((n) => !a.includes(n));
      return a.length > 0 && b.length > 0 ? `partition (${a.join(',')}) (${b.join(',')})` : 'heal';
    }
    case 11:
      return 'heal';
    case 12:
      return `restart ${id}`;
    case 13:
      return `transfer-leader ${id} ${other}`;
    case 14:
      return `read-index ${id} r${k}`;
    case 15:
      return `compact ${id}`;
    default:
      return `tick-heartbeat ${id}`;
  }
}

function script(seed: number): string[] {
  const rng = Rng.fromSeed(`interaction-random-${seed}`);
  const lines = ['add-nodes 3 voters=(1,2,3) index=2 election=4', 'add-nodes 2'];
  for (let k = 0; k < COMMANDS_PER_SCRIPT; k++) lines.push(randomCommand(rng, k));
  // Converge at the end: heal, let time pass, settle.
  lines.push('heal', 'tick 1 10', 'tick 2 10', 'tick 3 10', 'stabilize');
  return lines;
}

function run(lines: readonly string[]): { trace: string[]; violations: string[] } {
  const env = new InteractionEnv(factory);
  const trace = lines.map((l) => runLine(env, l));
  return { trace, violations: [...env.violations] };
}

describe('random interaction scripts', () => {
  const only = process.env.CAIRN_SEED;
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: SCRIPTS }, (_, i) => i + 1);
  it(`replay identically and stay safe (${seeds.length} scripts of ${COMMANDS_PER_SCRIPT} commands)`, () => {
    for (const seed of seeds) {
      const lines = script(seed);
      const where = (): string => {
        const path = join(tmpdir(), `cairn-interaction-${seed}.txt`);
        writeFileSync(path, lines.map((l) => formatCase(l, '')).join('\n'));
        return `seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test src/raft/interaction/random.test.ts; script: ${path}`;
      };
      let first: ReturnType<typeof run>;
      let second: ReturnType<typeof run>;
      try {
        first = run(lines);
        second = run(lines);
      } catch (err) {
        assert.fail(`${where()}: ${(err as Error).stack ?? String(err)}`);
      }
      assert.deepEqual(first.violations, [], where());
      const differs = first.trace.findIndex((t, i) => t !== second.trace[i]);
      assert.equal(
        differs,
        -1,
        `${where()}: command ${differs + 1} (${lines[differs]}) printed different traces`,
      );
    }
  });
});
