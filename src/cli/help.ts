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
  members    list the cluster as one node sees it
  sim ping   run simulated nodes that ping each other; prints a trace hash
  sim membership  run N simulated membership nodes; prints convergence figures
  store status    the consistent store as one node sees it (leader, term, indexes, members)
  kv get|set|del|scan|ring|decommission|removenode  the partitioned store (Redis protocol on each node)
  token key|mint  make a token root key, or mint a capability token for the client APIs
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

Starts a local cluster of agents on 127.0.0.1, waits until every /health answers and every node
lists every node alive (each node's seeds are the others' gossip addresses), prints the addresses
it serves and stays up until Ctrl-C. "cairn members" then lists the cluster. Node i (0-based)
listens on gossip base+100+i, HTTP base+200+i, the etcd API (store role) on base+300+i and the
Redis protocol (kv role) on base+400+i; every node is a kv seed and keeps min(3, nodes) replicas

  -n, --nodes <n>             number of nodes, 1-100 (default 3)
  --base-port <port>          base of the port plan (default 7000)
  --data-root <dir>           data dirs are <dir>/node-<i> (default .cairn/dev)
  --json                      print exactly one JSON line when all nodes are ready
  --roles <a,b,...>           roles for every node (default all)
  --log-level <level>         log level of the agents (logs go to <dir>/node-<i>/agent.log)
  --membership-preset <name>  lan, wan, local or test (default local: loopback timings)
  --ready-timeout-ms <ms>     how long to wait for health and the join (default 30000)
  --stop-timeout-ms <ms>      how long agents get to stop before SIGKILL (default 12000)
  --exit-with-parent          stop when stdin closes or the parent process exits
  -h, --help                  print this help
`;

/** `cairn help members`. */
export const MEMBERS_HELP = `Usage: cairn members [--json] [--http 127.0.0.1:7200] [--config cairn.yaml]

Lists the cluster as one node sees it (its GET /v1/members): name, id, state (alive, suspect,
dead, left), gossip address, incarnation and key/value metadata. The node asked is marked "*".

Which node: --http when given; otherwise the agent described by --config and the CAIRN_*
environment (as "cairn agent" reads them); with neither, 127.0.0.1:7200 (node 0 of "cairn dev").

  --http <host:port>      the node's HTTP address
  -c, --config <path>     read the node's HTTP address from its config file
  --json                  print exactly one JSON line: the body of /v1/members
  --timeout-ms <ms>       how long to wait for the answer (default 5000)
  -h, --help              print this help

Exit codes: 0 listed, 1 the node cannot be reached or has no member list, 2 usage error.
`;

/** `cairn sim membership --help`. */
export const SIM_MEMBERSHIP_HELP = `Usage: cairn sim membership [--nodes 100] [--seed S] [--loss p] [--detector swim|phi]
                            [--lifeguard on|off] [--protocol lan|local|test] [--progress] [--json]

Runs N membership nodes (the production driver) on the deterministic simulator: they join through
3 seeds (staggered), one node sets a key, one node crashes. Prints join_converged_ms,
update_converged_ms, detect_converged_ms (virtual time), false_deaths, bytes_per_node_per_s,
trace_hash and wall_ms. The same seed gives the same trace_hash and figures (wall_ms, setup_ms,
phase_wall_ms and the memory peaks are measured on the host). Above 200 nodes records are signed
with the insecure simulated scheme (the output says which). Large N re-runs itself with a larger
heap (--max-old-space-size, CAIRN_SIM_HEAP_MB overrides the size) and a larger young generation
(--max-semi-space-size=64). Cost grows with N^2: 1,000 nodes take about 30 s, 10,000 nodes about
45 minutes and 14 GB of memory on a 2-core machine (seed 1).

  --nodes <n>          number of simulated nodes (default 100)
  --seed <s>           seed: an integer or any text
  --loss <p>           packet loss probability 0-1 (default 0)
  --detector <d>       swim (probes, default) or phi (phi accrual over heartbeats)
  --lifeguard <on|off> Lifeguard (default on)
  --protocol <p>       timing preset: lan (default), local or test
  --progress           progress lines on stderr
  --json               print exactly one JSON object line
  -h, --help           print this help
`;

/** `cairn help sim`. */
export const SIM_HELP = `Usage: cairn sim membership --help   (simulated membership cluster; see its help)
       cairn sim ping [--nodes 1000] [--seed S] [--loss 0.1] [--duration-ms N] [--json]

Runs simulated nodes that ping random peers over the simulated network for a fixed virtual time.
The same seed gives the same trace_hash. Without --seed a seed is picked and printed first (stderr).

  --nodes <n>          number of simulated nodes (default 1000)
  --seed <s>           seed: an integer or any text
  --loss <p>           packet loss probability 0-1 (default 0)
  --duration-ms <ms>   virtual time to simulate (default: the simulator's)
  --json               print exactly one JSON object line
  -h, --help           print this help
`;

/** `cairn store --help`. */
export const STORE_HELP = `Usage: cairn store status [--json] [--http 127.0.0.1:7200] [--config cairn.yaml]

Shows the consistent store as one node sees it (its GET /v1/store/status): this member, the leader,
raft term, commit and applied index, the MVCC revision, and the voters and learners with their etcd
API addresses. Any etcd client (etcdctl, the etcd3 package) talks to the store itself on a node's
etcd port.

Which node: --http when given; otherwise the agent described by --config and the CAIRN_*
environment (as "cairn agent" reads them); with neither, 127.0.0.1:7200 (node 0 of "cairn dev").

  --http <host:port>      the node's HTTP address
  -c, --config <path>     read the node's HTTP address from its config file
  --json                  print exactly one JSON line: the body of /v1/store/status
  --timeout-ms <ms>       how long to wait for the answer (default 5000)
  -h, --help              print this help

Exit codes: 0 shown, 1 the node cannot be reached or runs no store, 2 usage error.
`;

/** `cairn token --help`. */
export const TOKEN_HELP = `Usage: cairn token key
       cairn token mint [--prefix P] [--read-only] [--ttl-s N] [--root-key K | --config cairn.yaml]

key   prints a new random root key (base64, 32 bytes) for security.tokenRootKeys
      (CAIRN_TOKEN_ROOT_KEYS). An agent whose APIs listen beyond loopback needs one.
mint  prints a capability token minted from the first root key of the agent's configuration
      (--config file and CAIRN_* environment) or from --root-key. Give it to etcd clients as
      the password of any user: etcdctl --user cairn:<token>, or the etcd3 package's
      auth: { username: 'cairn', password: token }.

  --prefix <P>            only keys that start with P
  --read-only             only reads (range, watch, lease time-to-live, status, member list)
  --ttl-s <N>             expires after N seconds
  --location <text>       a signed hint of where the token is meant to be used
  --root-key <K>          mint from this key instead of the configured one
  -c, --config <path>     the agent's config file
  -h, --help              print this help

Anyone holding a token can narrow it further offline; no one can widen it.
`;

/** `cairn kv --help`. */
export const KV_HELP = `Usage: cairn kv get <key> [--consistency ONE|QUORUM|ALL] [--json]
       cairn kv set <key> <value> [--ttl-ms N] [--consistency L] [--json]
       cairn kv del <key>... [--consistency L] [--json]
       cairn kv scan [--match PATTERN] [--count N] [--limit N] [--consistency L] [--json]
       cairn kv ring [--json]
       cairn kv decommission [--json]
       cairn kv removenode <node> [--json]

The partitioned store: any node coordinates any key, at the consistency asked for (default the
node's, QUORUM unless configured otherwise). get, set, del and scan speak the Redis protocol to
one node's RESP port (redis-cli and Redis clients work the same way); ring, decommission and
removenode use its HTTP API.

get           prints the value (exit 1 when there is none)
set           writes a value, with --ttl-ms an expiry
del           deletes keys (tombstones); prints how many existed
scan          prints every key (each once), in ring order, up to --limit
ring          lists the ring as the node sees it: status, RESP address, tokens, share of the ring
decommission  streams the node's ranges to the nodes that take them over, then takes it off the
              ring, showing a progress bar; stop the agent afterwards
removenode    takes a node that is gone for good (dead, never decommissioned) off the ring: the
              node asked copies its ranges to their new owners from the surviving replicas,
              showing a progress bar; the removed node, started again on its old data, leaves

Which node: --resp (data commands) or --http (ring, decommission, removenode) when given; otherwise the agent
described by --config and the CAIRN_* environment (as "cairn agent" reads them); with neither,
node 0 of "cairn dev" (RESP 127.0.0.1:7400, HTTP 127.0.0.1:7200). A node that requires tokens
gets the one in CAIRN_KV_TOKEN (make one with "cairn token mint").

  --resp <host:port>        the node's RESP address
  --http <host:port>        the node's HTTP address
  -c, --config <path>       read the node's addresses from its config file
  --consistency <level>     ONE, QUORUM or ALL for this command's reads and writes
  --ttl-ms <ms>             set: the value expires after this many ms
  --match <pattern>         scan: only keys matching this Redis glob pattern
  --count <n>               scan: keys asked for per page (default 100)
  --limit <n>               scan: stop after this many keys (default 1000)
  --json                    print exactly one JSON line
  --timeout-ms <ms>         deadline of each call (default 10000; decommission, removenode: of
                            the whole run, 1 h)
  -h, --help                print this help

Exit codes: 0 done, 1 not found (get), refused, or the node cannot be reached, 2 usage error.
`;
