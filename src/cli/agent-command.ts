import { describeError, isCairnError } from '../core/index.js';
import { startAgent } from '../node/agent.js';
import { loadAgentConfig } from '../node/config.js';
import { CONFIG_FIELDS } from '../node/config-fields.js';
import { printable } from '../node/printable.js';
import { EXIT, type Options, parseFlags, stringFlag } from './args.js';
import { AGENT_HELP } from './help.js';
import { type CliIo, onStopSignals, watchParent, withDeadline, write } from './lifecycle.js';

/**
 * `cairn agent`: runs one node in the foreground until SIGINT, SIGTERM or SIGHUP (or, with
 * `--exit-with-parent`, until the parent process is gone), then stops it within the configured
 * shutdown timeout.
 *
 * Exit codes: 0 after a clean shutdown; 1 when the agent cannot start (port in use, unsafe key
 * file) or the shutdown failed or timed out; 2 for a bad command line or configuration.
 */

/** The flags of `cairn agent`: one per config field that has a flag, plus the command's own. */
export const AGENT_OPTIONS: Options = (() => {
  const options: Options = {
    config: { type: 'string', short: 'c' },
    'exit-with-parent': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const field of CONFIG_FIELDS) {
    if (field.flag !== undefined)
      options[field.flag] = { type: 'string', multiple: field.list !== undefined };
  }
  return options;
})();

/**
 * Runs `cairn agent` with `args` (the arguments after `agent`).
 *
 * @returns the exit code
 */
export async function agentCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags('agent', args, AGENT_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, AGENT_HELP);
    return EXIT.ok;
  }
  let config: Awaited<ReturnType<typeof loadAgentConfig>>;
  try {
    const configFile = stringFlag(values, 'config');
    config = await loadAgentConfig({
      ...(configFile === undefined ? {} : { configFile }),
      env: io.env,
      flags: values,
      cwd: io.cwd,
    });
  } catch (err) {
    if (!isCairnError(err, 'AGENT_CONFIG_INVALID')) throw err;
    await write(io.stderr, `cairn agent: ${printable(err.message)}\n`);
    return EXIT.usage;
  }

  // Stop triggers are armed before the agent starts, so a signal during startup is not lost: the
  // agent finishes starting and then stops at once.
  let requestStop: (reason: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  const offSignals = onStopSignals((signal) => requestStop(`signal ${signal}`));
  const unwatch =
    values['exit-with-parent'] === true ? watchParent((reason) => requestStop(reason)) : () => {};
  try {
    let agent: Awaited<ReturnType<typeof startAgent>>;
    try {
      agent = await startAgent(config);
    } catch (err) {
      await write(io.stderr, `cairn agent: cannot start: ${printable(describeError(err))}\n`);
      return EXIT.failure;
    }
    const reason = await stopRequested;
    agent.logger
      .child({ brick: 'cli' })
      .info({ reason, timeoutMs: config.shutdownTimeoutMs }, 'shutdown requested');
    try {
      const result = await withDeadline(agent.stop(), config.shutdownTimeoutMs);
      if (result.done) return EXIT.ok;
      await write(
        io.stderr,
        `cairn agent: shutdown did not finish within ${config.shutdownTimeoutMs} ms; exiting anyway\n`,
      );
      return EXIT.failure;
    } catch (err) {
      await write(io.stderr, `cairn agent: shutdown failed: ${printable(describeError(err))}\n`);
      return EXIT.failure;
    }
  } finally {
    offSignals();
    unwatch();
  }
}
