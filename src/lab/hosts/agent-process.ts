import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnError } from '../../core/index.js';
import { TEST_CLOCK_OFFSET_ENV } from '../../node/generation-file.js';
import { DEFAULT_LIMITS } from '../run/limits.js';
import type { HostPlan, NetPlan } from './plan.js';

/**
 * One `cairn agent` process inside its host's namespace, started as
 * `ip netns exec <ns> node --import tsx src/cli/main.ts agent ...` from the checkout (`ip netns
 * exec` execs the command, so the child's pid is the agent's: signals reach it directly). Its
 * output goes to `<logDir>/<name>.log` (appended across restarts); it runs with
 * `--exit-with-parent` and a stdin pipe from the lab, so it stops when the lab dies.
 */

/** The checkout the lab runs from (three folders above this file). */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Ports every agent uses on its own address (each host has its own, so they never clash). */
export const LAB_PORTS = Object.freeze({ gossip: 7946, http: 8500, etcd: 2379 });

/** How an agent of the run is configured. */
export interface AgentSpec {
  /** Roles (`membership` for the membership workload). */
  roles: readonly string[];
  /** Membership preset of every agent. */
  preset: string;
  /** Extra `cairn agent` flags (a workload's own). */
  extraArgs?: readonly string[];
  /** Extra environment (a workload's own, e.g. token root keys for the store). */
  env?: Readonly<Record<string, string>>;
}

/** The `cairn agent` arguments of host `h`: every other host is a seed. */
export function agentArgs(plan: NetPlan, h: HostPlan, spec: AgentSpec): string[] {
  const seeds = plan.hosts.filter((o) => o !== h).map((o) => `${o.address}:${LAB_PORTS.gossip}`);
  return [
    'agent',
    '--name',
    h.name,
    '--data-dir',
    h.dataDir,
    '--bind-host',
    h.address,
    '--gossip-port',
    String(LAB_PORTS.gossip),
    '--http-port',
    String(LAB_PORTS.http),
    '--roles',
    spec.roles.join(','),
    '--membership-preset',
    spec.preset,
    ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []),
    '--exit-with-parent',
    ...(spec.extraArgs ?? []),
  ];
}

/** A running (or exited) agent. */
export class AgentProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  /** Set while the process is stopped by SIGSTOP. */
  paused = false;

  /**
   * @param plan - the run's network
   * @param host - this agent's host
   * @param logFile - where its output goes (appended)
   */
  constructor(
    readonly plan: NetPlan,
    readonly host: HostPlan,
    readonly logFile: string,
  ) {}

  /** The agent's HTTP base URL, reached from the root namespace through the bridge. */
  get url(): string {
    return `http://${this.host.address}:${LAB_PORTS.http}`;
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The process id, when running. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /**
   * Starts the agent (it must not be running).
   *
   * @param clockOffsetMs - FOR TESTS ONLY: shifts the agent's membership clock (the skew fault),
   *   through `CAIRN_TEST_CLOCK_OFFSET_MS`
   */
  start(spec: AgentSpec, clockOffsetMs = 0): void {
    if (this.running) throw new CairnError('INTERNAL', `${this.host.name} is already running`);
    mkdirSync(this.host.dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(dirname(this.logFile), { recursive: true });
    const log = openSync(this.logFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
    delete env[TEST_CLOCK_OFFSET_ENV];
    if (clockOffsetMs !== 0) env[TEST_CLOCK_OFFSET_ENV] = String(clockOffsetMs);
    let child: ChildProcess;
    try {
      child = spawn(
        'ip',
        [
          'netns',
          'exec',
          this.host.netns,
          process.execPath,
          '--import',
          'tsx',
          join(CHECKOUT, 'src', 'cli', 'main.ts'),
          ...agentArgs(this.plan, this.host, spec),
        ],
        { cwd: CHECKOUT, stdio: ['pipe', log, log], env, detached: true },
      );
    } finally {
      closeSync(log);
    }
    child.stdin?.on('error', () => {});
    this.child = child;
    this.paused = false;
    this.exitedPromise = new Promise((r) => {
      child.once('exit', () => r());
      child.once('error', () => r());
    });
  }

  /** Sends `signal` to the agent when it runs; true when sent. */
  signal(signal: NodeJS.Signals): boolean {
    const pid = this.pid;
    if (pid === undefined) return false;
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** kill -9, then wait for the exit (bounded by `commandTimeoutMs`). */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    this.paused = false;
    await Promise.race([this.exitedPromise, delay(DEFAULT_LIMITS.commandTimeoutMs)]);
  }

  /** A clean stop: stdin closed (the agent leaves the cluster), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    if (this.paused) this.signal('SIGCONT');
    this.paused = false;
    this.child?.stdin?.end();
    const stopped = await Promise.race([
      this.exitedPromise.then(() => true),
      delay(timeoutMs).then(() => false),
    ]);
    if (!stopped) await this.kill();
  }

  /** SIGSTOP. */
  pause(): void {
    if (this.signal('SIGSTOP')) this.paused = true;
  }

  /** SIGCONT. */
  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /**
   * Waits until `/health` answers 200, polling every `watchRetryMs`.
   *
   * @returns the agent's node id
   * @throws CairnError `TIMEOUT` after `agentStartTimeoutMs`, or `AGENT_START_FAILED` when it exits
   */
  async waitHealthy(signal?: AbortSignal): Promise<string> {
    const deadline = Date.now() + DEFAULT_LIMITS.agentStartTimeoutMs;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new CairnError('CANCELLED', 'the run was stopped');
      if (!this.running) {
        throw new CairnError(
          'AGENT_START_FAILED',
          `${this.host.name} exited while starting; see ${this.logFile}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { nodeId?: unknown };
        if (res.status === 200 && typeof body.nodeId === 'string') return body.nodeId;
      } catch {
        // Not listening yet.
      }
      await delay(DEFAULT_LIMITS.watchRetryMs);
    }
    throw new CairnError(
      'TIMEOUT',
      `${this.host.name} did not answer /health within ${DEFAULT_LIMITS.agentStartTimeoutMs} ms (agentStartTimeoutMs); see ${this.logFile}`,
    );
  }
}

/** A timer promise that does not hold the process open. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
