import { isCairnError } from '../core/index.js';
import {
  CONFIG_LIMITS,
  LOG_LEVELS,
  MEMBERSHIP_PRESETS,
  ROLE_NAMES,
  type RoleName,
  type ServiceName,
  servedServices,
} from '../node/config-fields.js';
import { DEFAULT_BASE_PORT, formatHostPort, MAX_BASE_PORT, PORT_PLAN_MAX_NODES } from '../node/ports.js';
import { printable, printableLines } from '../node/printable.js';
import { EXIT, intFlag, type Options, parseFlags, stringFlag, UsageError } from './args.js';
import {
  type AliveView,
  agentArgs,
  DEV_HOST,
  type DevNode,
  logTail,
  planDevCluster,
  portChecks,
  probeHealth,
  readAliveMembers,
  spawnNode,
  stopNodes,
} from './dev-cluster.js';
import { firstTakenPort } from './dev-ports.js';
import { DEV_HELP } from './help.js';
import { type CliIo, onStopSignals, watchParent, write } from './lifecycle.js';

/**
 * `cairn dev`: a local cluster of agents on 127.0.0.1.
 *
 * Checks every planned port, spawns the agents, waits until every `/health` answers 200 and (when
 * the nodes run membership) until every node lists every node alive in `/v1/members`, prints
 * the addresses (with `--json`: exactly one JSON line on stdout, and only then), and stays up until
 * SIGINT, SIGTERM or SIGHUP (or its own parent's death with `--exit-with-parent`). Progress and
 * errors go to stderr. Exit codes: 0 when every node stopped cleanly, 1 when a port was taken, a
 * node failed to start, or a node exited with an error, 2 for a bad command line.
 */

/** Flags of `cairn dev`. */
export const DEV_OPTIONS: Options = {
  nodes: { type: 'string', short: 'n' },
  'base-port': { type: 'string' },
  'data-root': { type: 'string' },
  json: { type: 'boolean' },
  roles: { type: 'string' },
  'log-level': { type: 'string' },
  'membership-preset': { type: 'string' },
  'ready-timeout-ms': { type: 'string' },
  'stop-timeout-ms': { type: 'string' },
  'exit-with-parent': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Defaults of `cairn dev`. */
export const DEV_DEFAULTS = Object.freeze({
  nodes: 3,
  dataRoot: '.cairn/dev',
  /** Membership preset of the agents: `local` (memberlist's loopback timings), they all share 127.0.0.1. */
  membershipPreset: 'local',
  /**
   * How long all nodes may take to answer `/health` and to see each other alive: process start
   * plus tsx compile on a slow CI box, then a join (milliseconds on loopback).
   */
  readyTimeoutMs: 30_000,
  /** How long agents get to stop after SIGTERM before SIGKILL; above the agent's own 10 s timeout. */
  stopTimeoutMs: 12_000,
  /** Interval between `/health` polls while waiting for the nodes, and pause after a failed read. */
  pollMs: 100,
  /**
   * Longest blocking read of a node's member list while waiting for the join: a stop request or a
   * dead node is noticed within it.
   */
  joinWaitMs: 1_000,
});

/**
 * One node as printed with `--json`. A service address is present only when the node reports it
 * in `/health`, that is when the service really runs: no address is printed that nothing serves.
 */
export interface DevNodeInfo {
  /** `node-<i>`. */
  name: string;
  /** Full NodeId. */
  nodeId: string;
  /** HTTP (`/health`, `/metrics`, `/v1`). */
  http: string;
  /** Gossip, when the node runs the membership role. */
  gossip?: string;
  /** etcd v3 API, once a store role exists and runs. */
  etcd?: string;
  /** RESP, once a kv role exists and runs. */
  resp?: string;
  /** The agent's pid. */
  pid: number;
  /** Absolute data directory. */
  dataDir: string;
  /** Absolute path of the log file. */
  log: string;
}

interface DevOptions {
  nodes: number;
  basePort: number;
  dataRoot: string;
  json: boolean;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  exitWithParent: boolean;
  extraAgentArgs: string[];
  /** The agents run the membership role: wait until they all see each other. */
  membership: boolean;
  /** The services the agents run (`servedServices` of their roles): the ports checked and printed. */
  services: ServiceName[];
}

function readOptions(args: readonly string[]): DevOptions | 'help' {
  const { values } = parseFlags('dev', args, DEV_OPTIONS);
  if (values.help === true) return 'help';
  const extra: string[] = [];
  const roles = stringFlag(values, 'roles');
  if (roles !== undefined) {
    const bad = roles
      .split(',')
      .find((r) => r.trim() !== '' && !(ROLE_NAMES as readonly string[]).includes(r.trim()));
    if (bad !== undefined)
      throw new UsageError(`flag --roles: "${bad}" is not one of ${ROLE_NAMES.join(', ')}`, 'dev');
    extra.push('--roles', roles);
  }
  const level = stringFlag(values, 'log-level');
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new UsageError(`flag --log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`, 'dev');
    }
    extra.push('--log-level', level);
  }
  const preset = stringFlag(values, 'membership-preset') ?? DEV_DEFAULTS.membershipPreset;
  if (!(MEMBERSHIP_PRESETS as readonly string[]).includes(preset)) {
    throw new UsageError(
      `flag --membership-preset must be one of ${MEMBERSHIP_PRESETS.join(', ')}, got "${preset}"`,
      'dev',
    );
  }
  extra.push('--membership-preset', preset);
  const roleNames =
    roles === undefined
      ? [...ROLE_NAMES]
      : (roles
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '') as RoleName[]);
  const membership = roleNames.includes('membership');
  return {
    nodes: intFlag('dev', values, 'nodes', { min: 1, max: PORT_PLAN_MAX_NODES, default: DEV_DEFAULTS.nodes }),
    basePort: intFlag('dev', values, 'base-port', { min: 1, max: MAX_BASE_PORT, default: DEFAULT_BASE_PORT }),
    dataRoot: stringFlag(values, 'data-root') ?? DEV_DEFAULTS.dataRoot,
    json: values.json === true,
    readyTimeoutMs: intFlag('dev', values, 'ready-timeout-ms', {
      min: 1,
      max: 600_000,
      default: DEV_DEFAULTS.readyTimeoutMs,
    }),
    stopTimeoutMs: intFlag('dev', values, 'stop-timeout-ms', {
      min: 1,
      max: CONFIG_LIMITS.maxShutdownTimeoutMs,
      default: DEV_DEFAULTS.stopTimeoutMs,
    }),
    exitWithParent: values['exit-with-parent'] === true,
    extraAgentArgs: extra,
    membership,
    services: servedServices(roleNames),
  };
}

/**
 * Runs `cairn dev` with `args` (the arguments after `dev`).
 *
 * @returns the exit code, once the cluster has stopped
 */
export async function devCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = readOptions(args);
  if (options === 'help') {
    await write(io.stdout, DEV_HELP);
    return EXIT.ok;
  }
  const say = (text: string) => write(io.stderr, `cairn dev: ${printableLines(text)}\n`);
  const plan = planDevCluster({ ...options, cwd: io.cwd });
  const taken = await firstTakenPort(DEV_HOST, portChecks(plan, options.services));
  if (taken !== undefined) {
    await say(
      `port ${taken.port} (${taken.what}) on ${DEV_HOST} is already in use; stop what holds it or pick another --base-port`,
    );
    return EXIT.failure;
  }

  let stopReason: string | undefined;
  let wake: () => void = () => {};
  const requestStop = (reason: string) => {
    stopReason ??= reason;
    wake();
  };
  const offSignals = onStopSignals((signal) => requestStop(`signal ${signal}`));
  const unwatch = options.exitWithParent ? watchParent((reason) => requestStop(reason)) : () => {};
  const nodes: DevNode[] = [];
  try {
    for (const node of plan)
      nodes.push(spawnNode(node, agentArgs(node, plan, options.extraAgentArgs), io.env));
    for (const node of nodes) {
      void node.exited.then(() => {
        if (stopReason === undefined) void say(`${node.name} (pid ${node.pid}) exited ${describeExit(node)}`);
        wake();
      });
    }
    const deadline = performance.now() + options.readyTimeoutMs;
    let ready = await waitReady(nodes, options.readyTimeoutMs, () => stopReason !== undefined);
    if (ready === 'ready' && options.membership) {
      ready = await waitJoined(nodes, deadline, () => stopReason !== undefined);
    }
    if (ready !== 'ready') {
      // Stopped on request before all were ready: a clean stop is a success, as after ready.
      if (ready === 'stopped') {
        await say(`stopping ${nodes.length} nodes before they were all ready (${stopReason})`);
        return await shutdown(nodes, options.stopTimeoutMs, say, EXIT.ok);
      }
      await say(ready);
      return await shutdown(nodes, options.stopTimeoutMs, say, EXIT.failure);
    }
    await printReady(io, options, nodes);
    while (stopReason === undefined && nodes.some((n) => n.exit === undefined)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    await say(`stopping ${nodes.length} nodes (${stopReason ?? 'every node exited'})`);
    return await shutdown(nodes, options.stopTimeoutMs, say, EXIT.ok);
  } catch (err) {
    if (isCairnError(err) || err instanceof Error) await say(err.message);
    await stopNodes(nodes, options.stopTimeoutMs);
    return EXIT.failure;
  } finally {
    offSignals();
    unwatch();
  }
}

function describeExit(node: DevNode): string {
  if (node.spawnError !== undefined) return `before it started: ${node.spawnError}`;
  const exit = node.exit;
  if (exit === undefined) return 'not yet';
  return exit.signal !== null ? `on signal ${exit.signal}` : `with code ${exit.code}`;
}

/**
 * Polls every node's `/health` until all answer 200. Returns `ready`, `stopped` (a stop was
 * requested meanwhile) or a message saying which node failed or what timed out.
 */
async function waitReady(nodes: DevNode[], timeoutMs: number, stopRequested: () => boolean): Promise<string> {
  const attempts = Math.ceil(timeoutMs / DEV_DEFAULTS.pollMs);
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; attempt < attempts && performance.now() < deadline; attempt++) {
    if (stopRequested()) return 'stopped';
    const dead = nodes.find((n) => n.exit !== undefined);
    if (dead !== undefined) {
      return `${dead.name} (pid ${dead.pid}) exited ${describeExit(dead)} before it was ready; last lines of ${dead.logFile}:\n${logTail(dead)}`;
    }
    await Promise.all(
      nodes
        .filter((n) => n.nodeId === undefined)
        .map(async (n) => {
          const health = await probeHealth(n);
          if (health === undefined) return;
          n.nodeId = health.nodeId;
          n.addresses = health.addresses;
        }),
    );
    if (nodes.every((n) => n.nodeId !== undefined)) return 'ready';
    await new Promise((r) => setTimeout(r, DEV_DEFAULTS.pollMs));
  }
  const waiting = nodes.filter((n) => n.nodeId === undefined).map((n) => n.name);
  return `nodes not ready after ${timeoutMs} ms: ${waiting.join(', ')} (see their agent.log)`;
}

/**
 * Follows every node's `/v1/members` until each lists every node of the cluster alive, until
 * `deadline` (a `performance.now()` time). A node that does not list everyone yet is asked with a
 * blocking read (answered when its view changes, at most `joinWaitMs` later, so a stop request or
 * a dead node is noticed within that); the others are read plainly, in case they changed back.
 * Returns like {@link waitReady}.
 */
async function waitJoined(nodes: DevNode[], deadline: number, stopRequested: () => boolean): Promise<string> {
  const ids = nodes.map((n) => n.nodeId ?? '');
  const complete = (view: AliveView | undefined) =>
    view !== undefined && ids.every((id) => view.alive.includes(id));
  let seen: Array<AliveView | undefined> = nodes.map(() => undefined);
  const attempts = Math.ceil(Math.max(0, deadline - performance.now()) / DEV_DEFAULTS.pollMs) + 1;
  for (let attempt = 0; attempt < attempts && performance.now() < deadline; attempt++) {
    if (stopRequested()) return 'stopped';
    const dead = nodes.find((n) => n.exit !== undefined);
    if (dead !== undefined) {
      return `${dead.name} (pid ${dead.pid}) exited ${describeExit(dead)} before the cluster formed; last lines of ${dead.logFile}:\n${logTail(dead)}`;
    }
    const waitMs = Math.min(DEV_DEFAULTS.joinWaitMs, Math.max(1, deadline - performance.now()));
    const last = seen;
    seen = await Promise.all(
      nodes.map((n, i) =>
        complete(last[i]) || last[i] === undefined
          ? readAliveMembers(n)
          : readAliveMembers(n, last[i]!.index, waitMs),
      ),
    );
    if (seen.every(complete)) return 'ready';
    // A node that did not answer is asked again after a pause, not in a tight loop.
    if (seen.some((view) => view === undefined)) await new Promise((r) => setTimeout(r, DEV_DEFAULTS.pollMs));
  }
  const lagging = nodes
    .map(
      (n, i) =>
        `${n.name} sees ${seen[i]?.alive.filter((id) => ids.includes(id)).length ?? 'no list of'} of ${nodes.length} alive`,
    )
    .filter((_, i) => !complete(seen[i]));
  return `the nodes did not all see each other alive in time: ${lagging.join(', ')} (see their agent.log)`;
}

async function shutdown(
  nodes: DevNode[],
  timeoutMs: number,
  say: (t: string) => Promise<void>,
  code: number,
): Promise<number> {
  const killed = await stopNodes(nodes, timeoutMs);
  if (killed.length > 0) await say(`killed ${killed.join(', ')} after ${timeoutMs} ms without a clean stop`);
  const failed = nodes.filter((n) => n.exit?.code !== 0);
  if (failed.length > 0 && killed.length === 0) {
    await say(`not clean: ${failed.map((n) => `${n.name} exited ${describeExit(n)}`).join(', ')}`);
  }
  return failed.length > 0 ? EXIT.failure : code;
}

/** The printed form of a ready node: the services its `/health` reports, on the plan's ports. */
export function nodeInfo(node: DevNode): DevNodeInfo {
  const info: DevNodeInfo = {
    name: node.name,
    nodeId: node.nodeId ?? '',
    http: formatHostPort(DEV_HOST, node.ports.http),
    pid: node.pid,
    dataDir: node.dataDir,
    log: node.logFile,
  };
  for (const service of ['gossip', 'etcd', 'resp'] as const) {
    if (node.addresses?.[service] !== undefined)
      info[service] = formatHostPort(DEV_HOST, node.ports[service]);
  }
  return info;
}

/** The readable form of one ready node; every field escaped (`printable`). */
function nodeText(n: DevNodeInfo): string {
  const services = (['gossip', 'etcd', 'resp'] as const)
    .filter((service) => n[service] !== undefined)
    .map((service) => `${service} ${printable(n[service]!)}`);
  return [
    `  ${printable(n.name)}  ${printable(n.nodeId.slice(0, 10))}  pid ${n.pid}`,
    `      http   http://${printable(n.http)}/health`,
    ...(services.length > 0 ? [`      ${services.join('   ')}`] : []),
    `      log    ${printable(n.log)}`,
  ].join('\n');
}

async function printReady(io: CliIo, options: DevOptions, nodes: readonly DevNode[]): Promise<void> {
  const infos = nodes.map(nodeInfo);
  if (options.json) {
    await write(io.stdout, `${JSON.stringify({ nodes: infos })}\n`);
    return;
  }
  await write(
    io.stdout,
    `cairn dev: ${nodes.length} nodes ready\n${infos.map(nodeText).join('\n')}\nPress Ctrl-C to stop.\n`,
  );
}
