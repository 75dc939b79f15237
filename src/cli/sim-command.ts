import { Rng } from '../core/index.js';
import { parseSeed } from '../sim/seed.js';
import { EXIT, intFlag, numberFlag, type Options, parseFlags, stringFlag, UsageError } from './args.js';
import { SIM_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';
import { writeSimResult } from './sim-output.js';

/**
 * `cairn sim ping`: runs the simulator's ping scenario and prints its result.
 *
 * The seed is printed first (stderr, `seed=...` with the command that replays the run) whether or
 * not it was given, so every run can be replayed from its output. Seeds are read by the
 * simulator's `parseSeed`: a decimal integer is a number, other text is a string seed. With
 * `--json`, stdout carries exactly one JSON object line; without, a readable summary.
 */

/** Flags of `cairn sim ping`. */
export const SIM_PING_OPTIONS: Options = {
  nodes: { type: 'string', short: 'n' },
  seed: { type: 'string', short: 's' },
  loss: { type: 'string' },
  'duration-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Most simulated nodes the CLI accepts (the simulator's scale target is 10,000). */
export const SIM_MAX_NODES = 100_000;

/** `text` quoted for a POSIX shell when it needs quoting. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9._:@%+=,/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs `cairn sim <args>`: `ping` or `membership`. */
export async function simCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    await write(sub === undefined ? io.stderr : io.stdout, SIM_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === 'membership') {
    const { simMembership } = await import('./sim-membership.js');
    return simMembership(rest, io);
  }
  if (sub !== 'ping') {
    throw new UsageError(`unknown simulation "${sub}"; the simulations are: ping, membership`, 'sim');
  }
  return simPing(rest, io);
}

async function simPing(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags('sim ping', args, SIM_PING_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, SIM_HELP);
    return EXIT.ok;
  }
  const nodes = intFlag('sim ping', values, 'nodes', { min: 1, max: SIM_MAX_NODES, default: 1000 });
  const loss = numberFlag('sim ping', values, 'loss', { min: 0, max: 1 });
  const durationText = stringFlag(values, 'duration-ms');
  const durationMs =
    durationText === undefined
      ? undefined
      : intFlag('sim ping', values, 'duration-ms', { min: 1, max: 86_400_000, default: 0 });
  const seedText = stringFlag(values, 'seed') ?? String(Rng.randomSeed());
  if (seedText.length === 0 || seedText.length > 256) {
    throw new UsageError(`flag --seed must be 1-256 characters, got ${seedText.length}`, 'sim ping');
  }
  const seed = parseSeed(seedText);
  const replay = [
    'cairn sim ping',
    `--nodes ${nodes}`,
    `--seed ${shellQuote(seedText)}`,
    ...(loss === undefined ? [] : [`--loss ${loss}`]),
    ...(durationMs === undefined ? [] : [`--duration-ms ${durationMs}`]),
    ...(values.json === true ? ['--json'] : []),
  ].join(' ');
  await write(io.stderr, `seed=${seedText} (replay: ${replay})\n`);

  const { runPingSim } = await import('../sim/ping.js');
  const result = await runPingSim({
    nodes,
    seed,
    ...(loss === undefined ? {} : { loss }),
    ...(durationMs === undefined ? {} : { durationMs }),
  });
  await writeSimResult(io, `sim ping: ${nodes} nodes`, result, values.json === true);
  return EXIT.ok;
}
