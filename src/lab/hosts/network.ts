import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CairnError, describeError } from '../../core/index.js';
import type { HostRules } from '../nemesis/faults.js';
import { mustRun, runCommand } from './command.js';
import { LAB_NET_PREFIX, type NetPlan, NFT_TABLE, octetOfLink, octetOfNetns, RUN_OCTETS } from './plan.js';

/**
 * The lab network: a bridge in the root namespace and one namespace per host, joined to it by a
 * veth pair. Created at the start of a run, destroyed at its end; `sweep` removes what a killed
 * run left behind. A run claims its octet with an owner file `/run/cairn-lab/<octet>.pid` created
 * exclusively, so two runs on one machine never share names, and a sweep only removes the objects
 * of octets whose owner process is gone.
 */

/** Why the lab cannot run here, or undefined when it can (root, `ip netns`, `nft`). */
export async function labUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== 'linux')
    return `the fault lab needs Linux network namespaces (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'the fault lab needs root to create network namespaces (run as root, or in a CI container that is)';
  }
  const ip = await runCommand('ip', ['netns', 'list']);
  if (ip.code !== 0)
    return `the fault lab cannot list network namespaces: ip netns list: ${ip.stderr.trim() || `exit ${ip.code}`}`;
  const nft = await runCommand('nft', ['--version']);
  if (nft.code !== 0)
    return 'the fault lab needs nftables (`apt-get install nftables`): nft is not available';
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where runs claim their octets: one folder for the whole machine, whatever `TMPDIR` or state root
 * a run uses, because namespaces and links are machine-wide. With a claim file per state root, a
 * run under another `TMPDIR` would take the same octet, or sweep a live run's namespaces as dead.
 */
export const OWNER_DIR = '/run/cairn-lab';

function ownerFile(octet: number): string {
  return join(OWNER_DIR, `${octet}.pid`);
}

function ownerAlive(octet: number): boolean {
  try {
    const pid = Number(readFileSync(ownerFile(octet), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || pidAlive(pid));
  } catch {
    return false;
  }
}

/** The lab's namespaces and root links that exist now, by octet. */
async function labObjects(): Promise<Map<number, { netns: string[]; links: string[] }>> {
  const found = new Map<number, { netns: string[]; links: string[] }>();
  const at = (octet: number) => {
    let entry = found.get(octet);
    if (entry === undefined) {
      entry = { netns: [], links: [] };
      found.set(octet, entry);
    }
    return entry;
  };
  const ns = await runCommand('ip', ['netns', 'list']);
  for (const line of ns.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const octet = octetOfNetns(name);
    if (octet !== undefined) at(octet).netns.push(name);
  }
  const links = await runCommand('ip', ['-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '';
    const octet = octetOfLink(name);
    if (octet !== undefined) at(octet).links.push(name);
  }
  return found;
}

/** Kills every process inside `netns` (SIGKILL), then deletes it. */
async function removeNetns(netns: string): Promise<void> {
  const pids = await runCommand('ip', ['netns', 'pids', netns]);
  for (const pid of pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await runCommand('ip', ['netns', 'del', netns]);
}

/**
 * Removes every lab object (namespaces with their processes, links, data directories, owner
 * files) whose owning run is gone. Objects of live runs are left alone.
 *
 * @returns the octets swept
 */
export async function sweep(stateRoot: string): Promise<number[]> {
  const swept = new Set<number>();
  for (const [octet, objects] of await labObjects()) {
    if (ownerAlive(octet)) continue;
    for (const netns of objects.netns) await removeNetns(netns);
    for (const link of objects.links.filter((l) => l.endsWith('br') || /v\d+$/.test(l))) {
      await runCommand('ip', ['link', 'del', link]);
    }
    swept.add(octet);
  }
  if (existsSync(stateRoot)) {
    for (const name of readdirSync(stateRoot)) {
      const octet = Number(name.replace(/\.pid$/, ''));
      if (!Number.isInteger(octet) || ownerAlive(octet)) continue;
      rmSync(join(stateRoot, name), { recursive: true, force: true });
      swept.add(octet);
    }
  }
  if (existsSync(OWNER_DIR)) {
    for (const name of readdirSync(OWNER_DIR)) {
      const octet = Number(name.replace(/\.pid$/, ''));
      if (!Number.isInteger(octet) || ownerAlive(octet)) continue;
      rmSync(join(OWNER_DIR, name), { force: true });
      swept.add(octet);
    }
  }
  return [...swept].sort((a, b) => a - b);
}

/**
 * Claims a free octet: the lowest whose owner file can be created exclusively.
 *
 * @throws CairnError `LIMIT_EXCEEDED` when every octet is taken by a live run
 */
export function claimOctet(stateRoot: string, preferred?: number): number {
  mkdirSync(stateRoot, { recursive: true, mode: 0o700 });
  mkdirSync(OWNER_DIR, { recursive: true, mode: 0o700 });
  const candidates = preferred === undefined ? [] : [preferred];
  for (let o = RUN_OCTETS.min; o <= RUN_OCTETS.max; o++) if (o !== preferred) candidates.push(o);
  for (const octet of candidates) {
    try {
      writeFileSync(ownerFile(octet), `${process.pid}\n`, { flag: 'wx' });
      return octet;
    } catch {
      // Taken (a sweep already removed the files of dead owners).
    }
  }
  throw new CairnError(
    'LIMIT_EXCEEDED',
    `every lab octet ${RUN_OCTETS.min}-${RUN_OCTETS.max} is taken by a live run`,
  );
}

/** Refuses to run when the lab's range is already routed by something that is not the lab. */
async function checkRangeIsFree(plan: NetPlan): Promise<void> {
  const routes = await mustRun('ip', ['-4', 'route', 'show']);
  const clash = routes
    .split('\n')
    .find(
      (r) => r.startsWith(`${LAB_NET_PREFIX}.${plan.octet}.`) || r.startsWith(`${LAB_NET_PREFIX}.0.0/16`),
    );
  if (clash !== undefined) {
    throw new CairnError(
      'IO_ERROR',
      `the lab's range ${LAB_NET_PREFIX}.${plan.octet}.0/24 is already routed on this machine (${clash.trim()}); refusing to touch it`,
    );
  }
}

/**
 * Creates the bridge, the namespaces and the veth pairs of `plan`, addresses them and brings
 * them up, and installs an empty lab table in each namespace.
 *
 * @throws CairnError `IO_ERROR` naming the command that failed (the caller tears down)
 */
export async function createNetwork(plan: NetPlan): Promise<void> {
  await checkRangeIsFree(plan);
  await mustRun('ip', ['link', 'add', plan.bridge, 'type', 'bridge']);
  await mustRun('ip', ['addr', 'add', `${plan.bridgeAddress}/${plan.prefixLength}`, 'dev', plan.bridge]);
  await mustRun('ip', ['link', 'set', plan.bridge, 'up']);
  for (const h of plan.hosts) {
    await mustRun('ip', ['netns', 'add', h.netns]);
    await mustRun('ip', [
      'link',
      'add',
      h.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      h.nsLink,
      'netns',
      h.netns,
    ]);
    await mustRun('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/${plan.prefixLength}`, 'dev', h.nsLink]);
    await mustRun('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    await mustRun('ip', ['-n', h.netns, 'link', 'set', h.nsLink, 'up']);
    await mustRun('ip', ['link', 'set', h.hostLink, 'master', plan.bridge]);
    await mustRun('ip', ['link', 'set', h.hostLink, 'up']);
  }
  await Promise.all(plan.hosts.map((h) => applyRules(plan, h.index, { dropFrom: [], lossPercent: 0 })));
}

/**
 * The nftables script of one host: its lab table replaced in one transaction (the kernel applies
 * an `nft -f` file atomically, so no packet sees half a rule set). Only packets from other lab
 * nodes are matched: the lab's own traffic from the bridge address always passes.
 */
export function rulesScript(plan: NetPlan, rules: HostRules): string {
  const addr = (i: number) => plan.hosts[i]!.address;
  const others = plan.hosts.map((h) => h.address);
  const lines = [
    `table inet ${NFT_TABLE} {}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
  ];
  if (rules.dropFrom.length > 0) lines.push(`    ip saddr { ${rules.dropFrom.map(addr).join(', ')} } drop`);
  if (rules.lossPercent > 0) {
    lines.push(`    ip saddr { ${others.join(', ')} } numgen random mod 100 < ${rules.lossPercent} drop`);
  }
  lines.push('  }', '}', '');
  return lines.join('\n');
}

/** Replaces host `index`'s firewall with `rules`. */
export async function applyRules(plan: NetPlan, index: number, rules: HostRules): Promise<void> {
  await mustRun(
    'ip',
    ['netns', 'exec', plan.hosts[index]!.netns, 'nft', '-f', '-'],
    rulesScript(plan, rules),
  );
}

/**
 * Removes everything of `plan`: processes in its namespaces, the namespaces (their veth ends and
 * nft tables go with them), the bridge, the data directories and the owner file. Every step is
 * attempted; failures are returned as sentences, not thrown, so a teardown always finishes.
 */
export async function destroyNetwork(plan: NetPlan, stateRoot: string): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown> | unknown) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${describeError(err)}`);
    }
  };
  for (const h of plan.hosts) await attempt(`remove ${h.netns}`, () => removeNetns(h.netns));
  for (const h of plan.hosts)
    await attempt(`remove ${h.hostLink}`, () => runCommand('ip', ['link', 'del', h.hostLink]));
  await attempt(`remove ${plan.bridge}`, () => runCommand('ip', ['link', 'del', plan.bridge]));
  await attempt('remove data directories', () =>
    rmSync(join(stateRoot, String(plan.octet)), { recursive: true, force: true }),
  );
  await attempt('remove the owner file', () => rmSync(ownerFile(plan.octet), { force: true }));
  return problems;
}
