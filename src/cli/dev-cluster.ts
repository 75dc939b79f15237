import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError } from '../core/index.js';
import { SERVICE_PORT_FIELDS, type ServiceName } from '../node/config-fields.js';
import { INDEX_HEADER } from '../node/members-http.js';
import { formatHostPort, type NodePorts, portPlan } from '../node/ports.js';
import type { PortCheck } from './dev-ports.js';

/**
 * A local cluster of agent processes for `cairn dev`.
 *
 * Node `i` is named `node-<i>`, keeps its data in `<dataRoot>/node-<i>` and its log in
 * `<dataRoot>/node-<i>/agent.log`, listens on 127.0.0.1 with the ports of the plan (gossip
 * base+100+i, HTTP base+200+i, etcd base+300+i, RESP base+400+i), and has every other node's gossip
 * address as a seed. Each agent runs with `--exit-with-parent` and a stdin pipe from this process,
 * in its own process group (`detached`), so:
 *
 * - a terminal's Ctrl-C reaches only this process, which stops the agents by closing their stdin
 *   (SIGKILL after the stop timeout);
 * - when this process dies, even by SIGKILL, the kernel closes the agents' stdin and they stop.
 */

/** How many dev nodes are the store's first voters (the rest join as learners). */
export const DEV_STORE_VOTERS = 3;

/** Replicas of every key in a dev cluster of 3 or more nodes (fewer nodes keep a copy on each). */
export const DEV_KV_REPLICATION_FACTOR = 3;

/** The host every dev node binds to. */
export const DEV_HOST = '127.0.0.1';

/** Where one node of the dev cluster lives. */
export interface DevNodePlan {
  /** 0-based index in the port plan. */
  index: number;
  /** `node-<index>`. */
  name: string;
  /** Absolute data directory. */
  dataDir: string;
  /** Absolute path of the node's log file. */
  logFile: string;
  /** The node's ports. */
  ports: NodePorts;
}

/** A spawned node. */
export interface DevNode extends DevNodePlan {
  /** The agent process. */
  child: ChildProcess;
  /** The agent's pid. */
  pid: number;
  /** Set once `/health` answered 200. */
  nodeId?: string;
  /** The addresses the node's `/health` reports: only the services it really runs. */
  addresses?: Readonly<Record<string, string>>;
  /** Set once the process exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Set when the process could not be spawned at all. */
  spawnError?: string;
  /** Resolves when the process exits. */
  exited: Promise<void>;
}

/**
 * The plan of a dev cluster of `nodes` nodes.
 *
 * @param options.dataRoot - absolute or relative to `cwd`
 */
export function planDevCluster(options: {
  nodes: number;
  basePort: number;
  dataRoot: string;
  cwd: string;
}): DevNodePlan[] {
  const root = resolve(options.cwd, options.dataRoot);
  return Array.from({ length: options.nodes }, (_, index) => {
    const dataDir = join(root, `node-${index}`);
    return {
      index,
      name: `node-${index}`,
      dataDir,
      logFile: join(dataDir, 'agent.log'),
      ports: portPlan(options.basePort, index),
    };
  });
}

const SERVICE_CHECKS: Readonly<Record<ServiceName, readonly { protocol: 'tcp' | 'udp'; label: string }[]>> = {
  http: [{ protocol: 'tcp', label: 'HTTP' }],
  gossip: [
    { protocol: 'tcp', label: 'gossip (TCP)' },
    { protocol: 'udp', label: 'gossip (UDP)' },
  ],
  etcd: [{ protocol: 'tcp', label: 'etcd API' }],
  resp: [{ protocol: 'tcp', label: 'RESP' }],
};

/**
 * The ports the plan binds for `services`, for a check before spawning.
 *
 * @param services - the services the nodes run (`servedServices(roles)`); default every service of
 * the port plan, which is what a caller reserving a whole plan wants
 */
export function portChecks(
  plan: readonly DevNodePlan[],
  services: readonly ServiceName[] = Object.keys(SERVICE_PORT_FIELDS) as ServiceName[],
): PortCheck[] {
  return plan.flatMap((n) =>
    services.flatMap((service) =>
      SERVICE_CHECKS[service].map(({ protocol, label }) => ({
        port: n.ports[service],
        protocol,
        what: `${label} of ${n.name}`,
      })),
    ),
  );
}

/** The `cairn agent` arguments of one node. */
export function agentArgs(
  node: DevNodePlan,
  plan: readonly DevNodePlan[],
  extra: readonly string[],
): string[] {
  const seeds = plan.filter((n) => n !== node).map((n) => formatHostPort(DEV_HOST, n.ports.gossip));
  // The first DEV_STORE_VOTERS nodes bootstrap the store's raft group; later ones join as learners.
  const voters = plan.slice(0, DEV_STORE_VOTERS).map((n) => n.name);
  return [
    'agent',
    '--name',
    node.name,
    '--data-dir',
    node.dataDir,
    '--bind-host',
    DEV_HOST,
    '--gossip-port',
    String(node.ports.gossip),
    '--http-port',
    String(node.ports.http),
    '--etcd-port',
    String(node.ports.etcd),
    '--resp-port',
    String(node.ports.resp),
    ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []),
    '--store-initial-cluster',
    voters.join(','),
    // Every dev node starts the partitioned store's ring at once (kv seeds do not stream), with as
    // many replicas as there are nodes, up to the default 3.
    '--kv-seeds',
    plan.map((n) => n.name).join(','),
    '--kv-replication-factor',
    String(Math.min(DEV_KV_REPLICATION_FACTOR, plan.length)),
    '--exit-with-parent',
    ...extra,
  ];
}

/**
 * How to start `cairn` again in a child: the same Node binary, the same loader flags (`--import
 * tsx` in a checkout) and the same entry script this process was started with. Debugger and test
 * runner flags are dropped (two processes cannot share an inspector port).
 */
export function cairnCommand(): { command: string; args: string[] } {
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect') && !a.startsWith('--test'));
  const entry = process.argv[1];
  if (entry !== undefined && entry !== '') return { command: process.execPath, args: [...execArgv, entry] };
  const self = fileURLToPath(import.meta.url);
  const main = join(self, '..', `main${extname(self)}`);
  return { command: process.execPath, args: extname(self) === '.ts' ? ['--import', 'tsx', main] : [main] };
}

/**
 * Spawns one agent with its log file as stdout and stderr and a stdin pipe from this process.
 *
 * @throws when the data dir cannot be created or the log file opened
 */
export function spawnNode(node: DevNodePlan, args: readonly string[], env: NodeJS.ProcessEnv): DevNode {
  mkdirSync(node.dataDir, { recursive: true, mode: 0o700 });
  const log = openSync(node.logFile, 'a');
  const { command, args: prefix } = cairnCommand();
  let child: ChildProcess;
  try {
    child = spawn(command, [...prefix, ...args], { stdio: ['pipe', log, log], detached: true, env });
  } finally {
    closeSync(log);
  }
  const spawned: DevNode = { ...node, child, pid: child.pid ?? -1, exited: Promise.resolve() };
  spawned.exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      spawned.exit = { code, signal };
      resolveExit();
    });
    child.once('error', (err) => {
      spawned.exit = { code: null, signal: null };
      spawned.spawnError = describeError(err);
      resolveExit();
    });
  });
  // Writing to a dead child's stdin must not crash this process.
  child.stdin?.on('error', () => {});
  return spawned;
}

/** The last `lines` lines of a node's log, for an error message. */
export function logTail(node: DevNodePlan, lines = 15): string {
  try {
    const text = readFileSync(node.logFile, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch (err) {
    return `(log ${node.logFile} unreadable: ${describeError(err)})`;
  }
}

/**
 * Asks one node's `/health`; its node id and served addresses when it answers 200 from the
 * process this command spawned (the report's `pid` is `node.pid`), else `undefined`. The pid
 * check matters when the port plan collides with another cluster's: its agent would answer on the
 * plan's HTTP port while ours fails to bind, and its addresses are not ours.
 */
export async function probeHealth(
  node: DevNodePlan & { readonly pid: number },
  timeoutMs = 1000,
): Promise<{ nodeId: string; addresses: Record<string, string> } | undefined> {
  try {
    const res = await fetch(`http://${formatHostPort(DEV_HOST, node.ports.http)}/health`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    const body = (await res.json()) as { nodeId?: unknown; addresses?: unknown; pid?: unknown };
    if (typeof body.nodeId !== 'string' || body.pid !== node.pid) return undefined;
    const addresses: Record<string, string> = {};
    if (typeof body.addresses === 'object' && body.addresses !== null) {
      for (const [service, address] of Object.entries(body.addresses)) {
        if (typeof address === 'string') addresses[service] = address;
      }
    }
    return { nodeId: body.nodeId, addresses };
  } catch {
    return undefined;
  }
}

/** The node ids one node lists as alive, and the view index they came with. */
export interface AliveView {
  /** Ids of the members listed `alive`. */
  alive: string[];
  /** The `x-cairn-index` of the answer: pass it back to wait for the next change. */
  index: string;
}

/**
 * Asks one node's `/v1/members`: the node ids it lists as alive, or `undefined` when it does not
 * answer with a member list. With `index` (from an earlier answer) it is a blocking read that the
 * node answers once its view changed, or after `waitMs`.
 */
export async function readAliveMembers(
  node: DevNodePlan,
  index?: string,
  waitMs = 0,
): Promise<AliveView | undefined> {
  const query = index === undefined ? '' : `?index=${index}&wait=${Math.max(1, Math.ceil(waitMs))}`;
  try {
    const res = await fetch(`http://${formatHostPort(DEV_HOST, node.ports.http)}/v1/members${query}`, {
      signal: AbortSignal.timeout(waitMs + 1000),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    const body = (await res.json()) as { members?: Array<{ id?: unknown; state?: unknown }> };
    if (!Array.isArray(body.members)) return undefined;
    return {
      alive: body.members.filter((m) => m.state === 'alive').map((m) => String(m.id)),
      index: res.headers.get(INDEX_HEADER) ?? '0',
    };
  } catch {
    return undefined;
  }
}

/**
 * Stops every live node by closing its stdin (each runs with `--exit-with-parent`), then SIGKILL
 * for those still running after `timeoutMs`, then a bounded wait for the kill to land.
 *
 * Closing stdin rather than sending SIGTERM: a signal that arrives while an agent is still loading
 * its code, before its handler is installed, kills it uncleanly; the end of a pipe waits in the
 * pipe until the agent reads it, so a stop requested at any moment is a clean stop.
 *
 * @returns the names of nodes that had to be killed
 */
export async function stopNodes(nodes: readonly DevNode[], timeoutMs: number): Promise<string[]> {
  for (const node of nodes) if (node.exit === undefined) node.child.stdin?.end();
  const all = Promise.all(nodes.map((n) => n.exited));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!timedOut) return [];
  const killed = nodes.filter((n) => n.exit === undefined);
  for (const node of killed) node.child.kill('SIGKILL');
  await Promise.race([all, new Promise((r) => setTimeout(r, 2000).unref())]);
  return killed.map((n) => n.name);
}
