import assert from 'node:assert/strict';
import { join } from 'node:path';
import { INDEX_HEADER, type MemberJson, type MembersJson } from '../../src/node/members-http.js';
import { type CliProcess, get, runCli } from './agent-helpers.js';

/**
 * A cluster of real `cairn agent` processes on 127.0.0.1 for system tests: start a node (with its
 * seeds, environment and extra flags), read its member list over HTTP, wait until every node's view
 * satisfies a predicate (following blocking reads of `/v1/members`, which answer on membership
 * events), stop them all. Every wait is bounded.
 */

/** Every port chosen by the kernel. */
export const ZERO_PORTS = ['--http-port', '0', '--gossip-port', '0', '--etcd-port', '0', '--resp-port', '0'];
/** The local preset with a 500 ms probe interval: deaths detected in seconds. */
export const FAST = ['--membership-preset', 'local', '--membership-probe-interval-ms', '500'];
/** The time unit of {@link waitViews}' `attempts` (it once polled this often; now it follows events). */
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

/** One answer of `/v1/members` and the view index it carries. */
export interface IndexedView {
  list: MembersJson;
  /** The `x-cairn-index` header: pass it back to wait for the next change. */
  index: string;
}

/** Longest wait of one blocking read here; the agent caps it at a minute anyway. */
const READ_WAIT_MS = 10_000;

/**
 * Reads `base`'s member list (`http://host:port`); with `index`, a blocking read that the node
 * answers once its view differs from that index, or after `waitMs`.
 */
export async function readView(
  base: string,
  index: string | undefined,
  waitMs: number,
  signal: AbortSignal,
): Promise<IndexedView> {
  const wait = Math.max(1, Math.min(Math.ceil(waitMs), READ_WAIT_MS));
  const query = index === undefined ? '' : `?index=${index}&wait=${wait}`;
  const res = await fetch(`${base}/v1/members${query}`, {
    signal: AbortSignal.any([signal, AbortSignal.timeout(wait + 10_000)]),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${base}/v1/members answered ${res.status}: ${text}`);
  return { list: JSON.parse(text) as MembersJson, index: res.headers.get(INDEX_HEADER) ?? '0' };
}

/**
 * Follows the member lists of `bases` (`http://host:port`) with blocking reads until `ok` holds
 * for all of them: a node answers when its view changes, so this waits on membership events, not
 * on a timer. Fails with the last views after `timeoutMs`.
 */
export async function followViews(
  what: string,
  bases: readonly string[],
  ok: (list: MembersJson, i: number) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const abort = new AbortController();
  const pending = new Map<number, Promise<void>>();
  const views = await Promise.all(bases.map((base) => readView(base, undefined, 0, abort.signal)));
  try {
    while (!views.every((v, i) => ok(v.list, i))) {
      const left = deadline - performance.now();
      if (left <= 0) {
        assert.fail(
          `${what}: not reached in ${timeoutMs} ms; views: ${views.map((v) => view(v.list)).join(' | ')}`,
        );
      }
      for (const [i, base] of bases.entries()) {
        if (pending.has(i)) continue;
        const read = readView(base, views[i]!.index, left, abort.signal).then((next) => {
          views[i] = next;
          pending.delete(i);
        });
        pending.set(i, read);
      }
      await Promise.race(pending.values());
    }
  } finally {
    abort.abort();
    await Promise.allSettled(pending.values());
  }
}

/**
 * Waits until `ok` holds for every node's member list, following each node's view with blocking
 * reads (one answer per membership change, no polling); fails with the last views after
 * `attempts` x {@link POLL_MS} ms.
 */
export async function waitViews(
  what: string,
  nodes: readonly Node[],
  ok: (list: MembersJson, node: Node) => boolean,
  attempts = 200,
): Promise<void> {
  await followViews(
    what,
    nodes.map((n) => n.http),
    (list, i) => ok(list, nodes[i]!),
    attempts * POLL_MS,
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
