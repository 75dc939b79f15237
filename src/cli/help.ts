import { CONFIG_FIELDS } from '../node/config-fields.js';

/**
 * Usage texts of `cairn` and its commands. The agent's flag list is generated from the config
 * field table, so a new field shows up here with its flag and environment variable.
 */

/** `cairn help`. */
export const MAIN_HELP = `Usage: cairn <command> [flags]

Commands:
  agent      run one node (config file, environment, flags)
  dev        run a local cluster of agents on 127.0.0.1
  sim ping   run simulated nodes that ping each other; prints a trace hash
  version    print the version
  help       print this help, or "cairn help <command>"

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
`;

function agentFlags(): string {
  const rows = CONFIG_FIELDS.filter((f) => f.flag !== undefined).map((f) => {
    const flag = `--${f.flag} <${f.list ? 'a,b,...' : 'value'}>`;
    return `  ${flag.padEnd(34)}${f.path}${f.env ? ` (env ${f.env})` : ''}`;
  });
  const envOnly = CONFIG_FIELDS.filter((f) => f.flag === undefined && f.env !== undefined).map(
    (f) => `  ${''.padEnd(34)}${f.path} (env ${f.env} only: secrets stay off the command line)`,
  );
  return [...rows, ...envOnly].join('\n');
}

/** `cairn help agent`. */
export const AGENT_HELP = `Usage: cairn agent [--config cairn.yaml] [flags]

Runs one node until SIGINT/SIGTERM, then stops it cleanly (exit 0).
Precedence, lowest to highest: defaults < config file < environment < flags.

  -c, --config <path>               YAML config file; unknown fields are errors
${agentFlags()}
  --exit-with-parent                stop when stdin closes or the parent process exits
  -h, --help                        print this help
`;

/** `cairn help dev`. */
export const DEV_HELP = `Usage: cairn dev [--nodes 3] [--base-port 7000] [--json] [--data-root .cairn/dev]

Starts a local cluster of agents on 127.0.0.1, waits until every /health answers, prints the
addresses and stays up until Ctrl-C. Node i (0-based) listens on:
  gossip base+100+i, HTTP base+200+i, etcd API base+300+i, RESP base+400+i

  -n, --nodes <n>             number of nodes, 1-100 (default 3)
  --base-port <port>          base of the port plan (default 7000)
  --data-root <dir>           data dirs are <dir>/node-<i> (default .cairn/dev)
  --json                      print exactly one JSON line when all nodes are ready
  --roles <a,b,...>           roles for every node (default all)
  --log-level <level>         log level of the agents (logs go to <dir>/node-<i>/agent.log)
  --ready-timeout-ms <ms>     how long to wait for every /health (default 30000)
  --stop-timeout-ms <ms>      how long agents get to stop before SIGKILL (default 12000)
  --exit-with-parent          stop when stdin closes or the parent process exits
  -h, --help                  print this help
`;

/** `cairn help sim`. */
export const SIM_HELP = `Usage: cairn sim ping [--nodes 1000] [--seed S] [--loss 0.1] [--duration-ms N] [--json]

Runs simulated nodes that ping random peers over the simulated network for a fixed virtual time.
The same seed gives the same trace_hash. Without --seed a seed is picked and printed first (stderr).

  --nodes <n>          number of simulated nodes (default 1000)
  --seed <s>           seed: an integer or any text
  --loss <p>           packet loss probability 0-1 (default 0)
  --duration-ms <ms>   virtual time to simulate (default: the simulator's)
  --json               print exactly one JSON object line
  -h, --help           print this help
`;
