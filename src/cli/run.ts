import { describeError, isCairnError } from '../core/index.js';
import { printable } from '../node/printable.js';
import { CAIRN_VERSION } from '../node/version.js';
import { agentCommand } from './agent-command.js';
import { EXIT, UsageError } from './args.js';
import { devCommand } from './dev-command.js';
import {
  AGENT_HELP,
  DEV_HELP,
  KV_HELP,
  MAIN_HELP,
  MEMBERS_HELP,
  SIM_HELP,
  STORE_HELP,
  TOKEN_HELP,
} from './help.js';
import { kvCommand } from './kv-command.js';
import { type CliIo, write } from './lifecycle.js';
import { membersCommand } from './members-command.js';
import { simCommand } from './sim-command.js';
import { storeCommand } from './store-command.js';
import { tokenCommand } from './token-command.js';

/**
 * The `cairn` command: dispatch to a subcommand and turn every outcome into an exit code.
 *
 * Usage errors (unknown command or flag, bad value) print one line and a pointer to the help and
 * return 2; configuration errors return 2; anything else unexpected prints its message and
 * returns 1. Nothing here calls `process.exit`: `main.ts` does, after output is flushed.
 */

const HELP: Readonly<Record<string, string>> = {
  agent: AGENT_HELP,
  dev: DEV_HELP,
  kv: KV_HELP,
  members: MEMBERS_HELP,
  sim: SIM_HELP,
  store: STORE_HELP,
  token: TOKEN_HELP,
};

/**
 * Runs `cairn` with `argv` (the arguments after the program name).
 *
 * @param argv - e.g. `['dev', '--nodes', '3']`
 * @param io - streams, environment and working directory
 * @returns the exit code (see `EXIT`)
 * @example
 * ```ts
 * const code = await runCli(['version'], processIo()); // prints "0.1.0", returns 0
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'agent':
        return await agentCommand(rest, io);
      case 'dev':
        return await devCommand(rest, io);
      case 'kv':
        return await kvCommand(rest, io);
      case 'members':
        return await membersCommand(rest, io);
      case 'sim':
        return await simCommand(rest, io);
      case 'store':
        return await storeCommand(rest, io);
      case 'token':
        return await tokenCommand(rest, io);
      case 'version':
      case '--version':
      case '-v':
        await write(io.stdout, `${CAIRN_VERSION}\n`);
        return EXIT.ok;
      case undefined:
        await write(io.stderr, MAIN_HELP);
        return EXIT.usage;
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        if (topic !== undefined && HELP[topic] === undefined)
          throw new UsageError(`no help for unknown command "${topic}"`, 'help');
        await write(io.stdout, topic === undefined ? MAIN_HELP : HELP[topic]!);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command "${command}"`, 'help');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      const hint = err.command === 'help' ? 'cairn help' : `cairn help ${err.command.split(' ')[0]}`;
      await write(io.stderr, `cairn: ${printable(err.message)} (see "${hint}")\n`);
      return EXIT.usage;
    }
    if (isCairnError(err, 'AGENT_CONFIG_INVALID') || isCairnError(err, 'INVALID_ARGUMENT')) {
      await write(io.stderr, `cairn: ${printable(err.message)}\n`);
      return EXIT.usage;
    }
    await write(io.stderr, `cairn: ${printable(describeError(err))}\n`);
    return EXIT.failure;
  }
}
