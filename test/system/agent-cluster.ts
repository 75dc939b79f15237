import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { MemberJson, MembersJson } from '../../src/node/members-http.js';
import { type CliProcess, get, runCli } from './agent-helpers.js';

/**
 * A cluster of real `cairn agent` processes on 127.0.0.1 for system tests: start a node (with its
 * seeds, environment and extra flags), read its member list over HTTP, wait until every node's view
 * satisfies a predicate, stop them all. Every wait is bounded.
 */

/** Every port chosen by the kernel. */
export const ZERO_PORTS = ['--http-port', '0', '--gossip-port', '0', '--etcd-port', '0', '--resp-port', '0'];
/** The local preset with a 500 ms probe interval: deaths detected in seconds. */
export const FAST = ['--membership-preset', 'local', '--membership-probe-interval-ms', '500'];
/** Interval between two polls of the member lists. */
export const POLL_MS = 100;

/** One running agent process and its addresses. */
export interface Node {
  name: string;
  proc: CliProcess;
  http: string;
  gossip: string;
  nodeId: string;
}

/**
 * Starts `cairn agent` named `name` with its data directory under `dir`, joining `seeds`; resolves once
 * it logged "agent started". `extraArgs` follow the defaults, so they can override them.
 */
export async function startNode(
  dir: string,
  name: string,
  seeds: readonly Node[],
  env: Record<string, string> = {},
  extraArgs: readonly string[] = [],
): Promise<Node> {
  const seedArgs = seeds.length === 0 ? [] : ['--seeds', seeds.map((s) => s.gossip).join(',')];
  const proc = runCli(
    [
      'agent',
      '--name',
      name,
      '--data-dir',
      join(dir, name),
      ...ZERO_PORTS,
      ...FAST,
      ...seedArgs,
      ...extraArgs,
    ],
    env,
  );
  const line = await proc.line((l) => l.includes('"agent started"'), 30_000);
  const record = JSON.parse(line) as { nodeId: string; addresses: { http: string; gossip: string } };
  return {
    name,
    proc,
    http: `http://${record.addresses.http}`,
    gossip: record.addresses.gossip,
    nodeId: record.nodeId,
  };
}

export async function members(node: Node): Promise<MembersJson> {
  const res = await get(`${node.http}/v1/members`);
  assert.equal(res.status, 200, `${node.name}: /v1/members answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as MembersJson;
}

export function view(list: MembersJson): string {
  return list.members.map((m) => `${m.name}=${m.state}`).join(' ');
}

/**
 * Polls every node's member list until `ok` holds for all of them; fails with the last views after
 * `attempts` polls.
 */
export async function waitViews(
  what: string,
  nodes: readonly Node[],
  ok: (list: MembersJson, node: Node) => boolean,
  attempts = 200,
): Promise<void> {
  let last: MembersJson[] = [];
  for (let i = 0; i < attempts; i++) {
    last = await Promise.all(nodes.map(members));
    if (last.every((list, j) => ok(list, nodes[j]!))) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  assert.fail(
    `${what}: not reached after ${attempts} polls; views: ${last.map((l, j) => `${nodes[j]!.name}: ${view(l)}`).join(' | ')}`,
  );
}

export function find(list: MembersJson, node: Node): MemberJson | undefined {
  return list.members.find((m) => m.id === node.nodeId);
}

export async function stopAll(nodes: readonly Node[]): Promise<void> {
  for (const n of nodes)
    if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) n.proc.child.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.exit(10_000).catch(() => {})));
}
