/**
 * A cluster of membership nodes in one process, each on its own `NetTransport` (UDP + TCP on
 * 127.0.0.1, ephemeral ports), with observers that record when each node saw what. Used by
 * `bench/membership.ts`; skipped by the bench runner (the name starts with `_`).
 *
 * Observation is event-driven: every node's `join`/`alive`/`suspect`/`dead`/`leave` events keep a
 * per-node view of who is alive, and `update`/`dead`/`leave` events record arrival times, so no
 * figure depends on a polling interval. Every wait has a deadline.
 *
 * Interning (`src/membership/intern.ts`): with `intern: 'node'` each node runs in an intern scope
 * of its own (its transport's handlers through `scopedTransport`, every call into it through
 * {@link Cluster.inNode}), so it verifies and decodes what it receives itself, as alone in its
 * process; with `'process'` all nodes share one scope, as the simulator does, and a record is
 * verified once for the whole cluster.
 */
import { performance } from 'node:perf_hooks';
import { Rng } from '../src/core/index.js';
import { Membership, type MembershipProtocolConfig } from '../src/membership/index.js';
import { InternScope, PROCESS_SCOPE, runInInternScope } from '../src/membership/intern.js';
import type { MemberState } from '../src/membership/types.js';
import { ed25519Scheme, type NodeId, NodeIdentity, type SignatureScheme } from '../src/security/index.js';
import { NetTransport } from '../src/transport/net/net-transport.js';
import { scopedTransport } from './_scoped-transport.js';

/** One node of the cluster and what it has observed. */
export interface ClusterNode {
  readonly index: number;
  readonly membership: Membership;
  readonly transport: NetTransport;
  /** Where this node's records and verifications are shared ({@link PROCESS_SCOPE} if by all). */
  readonly scope: InternScope;
  /** Member states as this node's events reported them (itself excluded). */
  readonly view: Map<NodeId, MemberState>;
  /** `performance.now()` when this node first listed every node alive (undefined until then). */
  allAliveAt: number | undefined;
  /** Arrival time of `update` events, by `node/key`. */
  readonly updateAt: Map<string, number>;
  /** Arrival time of the latest `dead` event, by node id. */
  readonly deadAt: Map<NodeId, number>;
  /** Arrival time of the latest `suspect` event, by node id. */
  readonly suspectAt: Map<NodeId, number>;
  /** Arrival time of the latest `leave` event, by node id. */
  readonly leftAt: Map<NodeId, number>;
  /** False once shut down. */
  running: boolean;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  nodes: number;
  protocol: MembershipProtocolConfig;
  /** Seeds identities and every node's rng. */
  seed: string;
  /** `node`: an intern scope per node (what one real node pays); `process`: one for all. */
  intern: 'node' | 'process';
}

/** A cluster of `nodes` membership nodes on real loopback sockets. */
export class Cluster {
  /** Ed25519 operations that reached `node:crypto` (below each node's verification cache). */
  readonly crypto = { signs: 0, verifies: 0 };
  /** Ed25519, counted. */
  readonly scheme: SignatureScheme = {
    name: ed25519Scheme.name,
    sign: (identity, data) => {
      this.crypto.signs++;
      return ed25519Scheme.sign(identity, data);
    },
    verify: (node, data, signature) => {
      this.crypto.verifies++;
      return ed25519Scheme.verify(node, data, signature);
    },
  };
  /** `dead` events about a node that was running at the time (by any observer). */
  falseDeaths = 0;
  /** `suspect` events about a node that was running at the time (refuted or not). */
  falseSuspicions = 0;
  private readonly listeners = new Set<() => void>();
  private readonly byId = new Map<NodeId, ClusterNode>();

  private constructor(readonly nodes: readonly ClusterNode[]) {}

  /** Creates the transports and memberships (nobody has joined yet). */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const nodes: ClusterNode[] = [];
    const cluster = new Cluster(nodes);
    for (let i = 0; i < options.nodes; i++) {
      const scope = options.intern === 'node' ? new InternScope(`n${i}`) : PROCESS_SCOPE;
      const { transport, membership } = await runInInternScope(scope, async () => {
        const transport = await NetTransport.create({ host: '127.0.0.1', port: 0, closeTimeoutMs: 500 });
        const identity = NodeIdentity.fromSeed(Rng.fromSeed(`${options.seed}/identity/${i}`).bytes(32));
        const membership = await Membership.create({
          identity,
          transport: options.intern === 'node' ? scopedTransport(transport, scope) : transport,
          protocol: options.protocol,
          scheme: cluster.scheme,
          rng: Rng.fromSeed(`${options.seed}/node/${i}`),
          name: `n${i}`,
        });
        return { transport, membership };
      });
      const node: ClusterNode = {
        index: i,
        membership,
        transport,
        scope,
        view: new Map(),
        allAliveAt: undefined,
        updateAt: new Map(),
        deadAt: new Map(),
        suspectAt: new Map(),
        leftAt: new Map(),
        running: true,
      };
      cluster.observe(node, options.nodes);
      cluster.byId.set(membership.id, node);
      nodes.push(node);
    }
    return cluster;
  }

  private observe(node: ClusterNode, total: number): void {
    const m = node.membership;
    const set = (id: NodeId, state: MemberState) => {
      if (id === m.id) return;
      node.view.set(id, state);
      if (node.allAliveAt === undefined && state === 'alive' && this.aliveCount(node) === total) {
        node.allAliveAt = performance.now();
        this.notify();
      }
    };
    m.on('join', (e) => set(e.member.id, e.member.state));
    m.on('alive', (e) => set(e.member.id, e.member.state));
    m.on('suspect', (e) => {
      set(e.member.id, 'suspect');
      node.suspectAt.set(e.member.id, performance.now());
      if (this.byId.get(e.member.id)?.running === true) this.falseSuspicions++;
    });
    m.on('leave', (e) => {
      set(e.member.id, 'left');
      node.leftAt.set(e.member.id, performance.now());
      this.notify();
    });
    m.on('dead', (e) => {
      set(e.member.id, 'dead');
      node.deadAt.set(e.member.id, performance.now());
      if (this.byId.get(e.member.id)?.running === true) this.falseDeaths++;
      this.notify();
    });
    m.on('update', (e) => {
      const key = `${e.node}/${e.key}`;
      if (!node.updateAt.has(key)) {
        node.updateAt.set(key, performance.now());
        this.notify();
      }
    });
  }

  /** Members `node` lists alive, itself included. */
  aliveCount(node: ClusterNode): number {
    let n = 1;
    for (const s of node.view.values()) if (s === 'alive') n++;
    return n;
  }

  /** The nodes still running. */
  running(): ClusterNode[] {
    return this.nodes.filter((n) => n.running);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /**
   * Resolves true once `done()` holds (checked after every observed event), false at the deadline.
   */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Runs `fn` in `node`'s intern scope: every call into a node goes through here. */
  inNode<T>(node: ClusterNode, fn: () => T): T {
    return runInInternScope(node.scope, fn);
  }

  /** Stops `node` abruptly: no leave broadcast; its membership and transport go away at once. */
  async crash(node: ClusterNode): Promise<void> {
    node.running = false;
    await this.inNode(node, () => node.membership.shutdown());
    await node.transport.close();
  }

  /**
   * Stops `node` as the agent does on SIGTERM: `leave(leaveTimeoutMs)`, then shut down. Resolves
   * with how long the leave call took (ms).
   */
  async leave(node: ClusterNode, leaveTimeoutMs: number): Promise<number> {
    // Not running from here: what the others make of its going is the leave phase's figure.
    node.running = false;
    const start = performance.now();
    await this.inNode(node, () => node.membership.leave(leaveTimeoutMs));
    const leaveMs = performance.now() - start;
    await this.inNode(node, () => node.membership.shutdown());
    await node.transport.close();
    return leaveMs;
  }

  /** Bytes sent (UDP payloads + stream frames) by every transport, summed. */
  bytesSent(): number {
    let total = 0;
    for (const n of this.nodes) total += n.transport.stats.packetBytesSent + n.transport.stats.frameBytesSent;
    return total;
  }

  /** Packets sent by every transport, summed. */
  packetsSent(): number {
    let total = 0;
    for (const n of this.nodes) total += n.transport.stats.packetsSent;
    return total;
  }

  /** Shuts every running node down and closes every transport, with a deadline. */
  async stop(timeoutMs: number): Promise<boolean> {
    const all = Promise.all(
      this.nodes.map(async (n) => {
        if (n.running) {
          n.running = false;
          await this.inNode(n, () => n.membership.shutdown());
          await n.transport.close();
        }
      }),
    ).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await Promise.race([all, deadline]);
    clearTimeout(timer);
    return ok;
  }
}
