import { spawn } from 'node:child_process';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Rng } from '../core/index.js';
import { parseSeed } from '../sim/seed.js';
import { EXIT, intFlag, numberFlag, type Options, parseFlags, stringFlag, UsageError } from './args.js';
import { SIM_MEMBERSHIP_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';
import { writeSimResult } from './sim-output.js';

/**
 * `cairn sim membership`: N membership nodes on the simulator (`runMembershipSim`), one JSON
 * object with `--json`. Like `sim ping`, the seed and the replay command go to stderr first.
 *
 * Heap: a large run needs more than V8's default old space (about 2 to 4 GB). When the node count
 * asks for more than the current limit allows ({@link heapNeededMb}), the command runs itself
 * again in a child `node` with `--max-old-space-size` (at most 85% of the machine's memory) and a
 * larger young generation (`--max-semi-space-size`, {@link SIM_SEMI_SPACE_MB}), the
 * same arguments and inherited stdio, and returns the child's exit code. `CAIRN_SIM_HEAP_MB` sets
 * the size explicitly; `CAIRN_SIM_REEXEC=1` marks the child so it never re-executes again.
 */

/** Flags of `cairn sim membership`. */
export const SIM_MEMBERSHIP_OPTIONS: Options = {
  nodes: { type: 'string', short: 'n' },
  seed: { type: 'string', short: 's' },
  loss: { type: 'string' },
  detector: { type: 'string' },
  lifeguard: { type: 'string' },
  protocol: { type: 'string' },
  progress: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Most nodes `sim membership` accepts: each node lists every other, so memory grows with N^2. */
export const SIM_MEMBERSHIP_MAX_NODES = 20_000;

/** The old-space size, MB, a run of `nodes` nodes is given (measured per member, with margin). */
export function heapNeededMb(nodes: number): number {
  return Math.max(2048, Math.ceil((nodes * nodes * 600) / 2 ** 20) + 1024);
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9._:@%+=,/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function oneOf<T extends string>(
  command: string,
  name: string,
  text: string | undefined,
  allowed: readonly T[],
) {
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`flag --${name} must be one of ${allowed.join(', ')}, got "${text}"`, command);
  }
  return text as T;
}

/**
 * Young-generation semi-space of the re-executed child, MB (V8's default is 16). A large run
 * allocates push-pull frames of thousands of records; with the default young space most of them
 * survive a scavenge and are copied again. Measured at 2,000 nodes (seed 1): 194 -> 146 s wall,
 * same trace hash, same heap peak.
 */
const SIM_SEMI_SPACE_MB = 64;

/** Re-runs this process with a larger heap; resolves with the child's exit code. */
function reexec(heapMb: number, io: CliIo): Promise<number> {
  const args = [
    ...process.execArgv,
    `--max-old-space-size=${heapMb}`,
    `--max-semi-space-size=${SIM_SEMI_SPACE_MB}`,
    ...process.argv.slice(1),
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...io.env, CAIRN_SIM_REEXEC: '1' },
    });
    child.stdout.pipe(io.stdout, { end: false });
    child.stderr.pipe(io.stderr, { end: false });
    child.on('error', () => resolve(EXIT.failure));
    child.on('close', (code) => resolve(code ?? EXIT.failure));
  });
}

/** Runs `cairn sim membership <args>`. */
export async function simMembership(args: readonly string[], io: CliIo): Promise<number> {
  const command = 'sim membership';
  const { values } = parseFlags(command, args, SIM_MEMBERSHIP_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, SIM_MEMBERSHIP_HELP);
    return EXIT.ok;
  }
  const nodes = intFlag(command, values, 'nodes', { min: 1, max: SIM_MEMBERSHIP_MAX_NODES, default: 100 });
  const loss = numberFlag(command, values, 'loss', { min: 0, max: 1 });
  const detector = oneOf(command, 'detector', stringFlag(values, 'detector'), ['swim', 'phi'] as const);
  const lifeguardText = oneOf(command, 'lifeguard', stringFlag(values, 'lifeguard'), ['on', 'off'] as const);
  const protocol = oneOf(command, 'protocol', stringFlag(values, 'protocol'), [
    'lan',
    'local',
    'test',
  ] as const);
  const seedText = stringFlag(values, 'seed') ?? String(Rng.randomSeed());
  if (seedText.length === 0 || seedText.length > 256) {
    throw new UsageError(`flag --seed must be 1-256 characters, got ${seedText.length}`, command);
  }

  const wanted = Number(io.env.CAIRN_SIM_HEAP_MB ?? heapNeededMb(nodes));
  const limitMb = getHeapStatistics().heap_size_limit / 2 ** 20;
  if (io.env.CAIRN_SIM_REEXEC !== '1' && Number.isFinite(wanted) && wanted > limitMb * 1.05) {
    const heapMb = Math.min(Math.floor(wanted), Math.floor((totalmem() / 2 ** 20) * 0.85));
    if (heapMb > limitMb * 1.05) {
      // The child needs the seed on its command line so that both runs print the same one.
      if (stringFlag(values, 'seed') === undefined) process.argv.push('--seed', seedText);
      return reexec(heapMb, io);
    }
  }

  const seed = parseSeed(seedText);
  const replay = [
    'cairn sim membership',
    `--nodes ${nodes}`,
    `--seed ${shellQuote(seedText)}`,
    ...(loss === undefined ? [] : [`--loss ${loss}`]),
    ...(detector === undefined ? [] : [`--detector ${detector}`]),
    ...(lifeguardText === undefined ? [] : [`--lifeguard ${lifeguardText}`]),
    ...(protocol === undefined ? [] : [`--protocol ${protocol}`]),
    ...(values.json === true ? ['--json'] : []),
  ].join(' ');
  await write(io.stderr, `seed=${seedText} (replay: ${replay})\n`);

  const { runMembershipSim } = await import('./sim-membership/evaluate.js');
  const result = await runMembershipSim({
    nodes,
    seed,
    ...(loss === undefined ? {} : { loss }),
    ...(detector === undefined ? {} : { detector }),
    ...(lifeguardText === undefined ? {} : { lifeguard: lifeguardText === 'on' }),
    ...(protocol === undefined ? {} : { protocol }),
    ...(values.progress === true ? { onProgress: (line: string) => void write(io.stderr, `${line}\n`) } : {}),
  });
  await writeSimResult(io, `sim membership: ${nodes} nodes`, result, values.json === true);
  return EXIT.ok;
}
