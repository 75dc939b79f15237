import { join } from 'node:path';
import { CairnError } from '../../core/index.js';
import type { RunLog } from '../run/run-log.js';
import { AgentProcess, type AgentSpec } from './agent-process.js';
import { claimOctet, createNetwork, destroyNetwork, sweep } from './network.js';
import { type NetPlan, netPlan } from './plan.js';

/**
 * The hosts of one run: the network and one agent per host. `LabHosts.create` sweeps what killed
 * runs left, claims an octet, builds the network and starts every agent; `destroy` removes it
 * all, and is safe to call at any point (also twice, also after a failed create).
 */
export class LabHosts {
  /** Node id of each host, by index (stable across restarts: the key lives in the data dir). */
  readonly nodeIds: string[] = [];
  private destroyed = false;

  private constructor(
    readonly plan: NetPlan,
    readonly agents: AgentProcess[],
    readonly spec: AgentSpec,
    private readonly stateRoot: string,
  ) {}

  /**
   * Builds the network of `nodes` hosts and starts an agent on each.
   *
   * @param options.stateRoot - folder for data dirs and owner files (swept of dead runs first)
   * @param options.log - the run log (progress and records)
   * @param options.onCreated - called as soon as there is something to clean up, so a Ctrl-C during
   *   the start still tears it down
   * @throws what the network or an agent start threw, after tearing down what was made
   */
  static async create(options: {
    nodes: number;
    spec: AgentSpec;
    stateRoot: string;
    log: RunLog;
    signal?: AbortSignal;
    onCreated?: (hosts: LabHosts) => void;
  }): Promise<LabHosts> {
    const swept = await sweep(options.stateRoot);
    if (swept.length > 0)
      options.log.say('sweep', `removed what earlier runs left (octets ${swept.join(', ')})`);
    const octet = claimOctet(options.stateRoot);
    const plan = netPlan(octet, options.nodes, options.stateRoot);
    const agents = plan.hosts.map((h) => new AgentProcess(plan, h, join(options.log.dir, `${h.name}.log`)));
    const hosts = new LabHosts(plan, agents, options.spec, options.stateRoot);
    options.onCreated?.(hosts);
    try {
      await createNetwork(plan);
      options.log.say(
        'network',
        `network ${plan.bridgeAddress.replace(/\.254$/, '.0')}/24 on bridge ${plan.bridge}, ${options.nodes} namespaces`,
        {
          octet,
          hosts: plan.hosts.map((h) => ({ name: h.name, netns: h.netns, address: h.address })),
        },
      );
      for (const a of agents) a.start(options.spec);
      const ids = await Promise.all(agents.map((a) => a.waitHealthy(options.signal)));
      hosts.nodeIds.push(...ids);
      options.log.say('agents', `${options.nodes} agents answer /health`, { nodeIds: ids });
      return hosts;
    } catch (err) {
      await hosts.destroy();
      throw err;
    }
  }

  /** The host index of a node id, or -1. */
  indexOf(nodeId: string): number {
    return this.nodeIds.indexOf(nodeId);
  }

  /** Restarts agent `index` (it must have exited), optionally with a test-only clock offset. */
  restart(index: number, clockOffsetMs = 0): void {
    const agent = this.agents[index];
    if (agent === undefined) throw new CairnError('INVALID_ARGUMENT', `no host ${index}`);
    agent.start(this.spec, clockOffsetMs);
  }

  /**
   * Kills every agent and removes the network, data directories and owner file.
   *
   * @returns problems met (each a sentence); empty when everything was removed
   */
  async destroy(): Promise<string[]> {
    if (this.destroyed) return [];
    this.destroyed = true;
    await Promise.all(this.agents.map((a) => a.kill()));
    return destroyNetwork(this.plan, this.stateRoot);
  }
}
