import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import {
  CairnError,
  type Clock,
  describeError,
  isCairnError,
  type Logger,
  Rng,
  sleep,
} from '../core/index.js';
import { Membership } from '../membership/driver/membership.js';
import type { MemberState } from '../membership/types.js';
import { parseKey } from '../security/key-set.js';
import { Keyring } from '../security/keyring.js';
import { TransportMux } from '../transport/mux.js';
import { NetTransport } from '../transport/net/net-transport.js';
import { type SealedTransport, sealTransport } from '../transport/sealed.js';
import type { Transport } from '../transport/types.js';
import type { AgentConfig } from './config.js';
import { fileGenerationStore, GENERATION_FILE_NAME, testOffsetClock } from './generation-file.js';
import { membershipProtocol } from './membership-protocol.js';
import { bindFailureReason, formatHostPort, systemErrorIn } from './ports.js';
import { printable } from './printable.js';
import type { Role, RoleContext, RoleHealth, RoleState } from './role.js';

/**
 * The `membership` role: every agent's view of the cluster.
 *
 * Start: one `NetTransport` (UDP + TCP) on `bind.host:bind.gossipPort`, advertised as
 * `advertiseHost:port` when set; sealed with the keyring when one is configured; split by a
 * `TransportMux`, whose channel {@link MEMBERSHIP_CHANNEL} is membership's (later bricks open other
 * channels on {@link MembershipRole.mux}). `Membership` runs on it with the node's identity, name,
 * the configured protocol preset, logger and metrics, and the configured seeds. Joining happens in
 * the background: `join()` is retried with jittered exponential backoff until a seed answers or a
 * peer finds this node first; after that, Membership's own re-seed (every `reseedIntervalMs`
 * while no live peer is known) keeps a node that lost everyone coming back.
 *
 * Stop: a graceful `leave(leaveTimeoutMs)`, so peers list this node as `left` and not `dead`, then
 * shutdown and the transport closed.
 */

/** The mux channel membership speaks on. Other bricks take other ids. */
export const MEMBERSHIP_CHANNEL = 1;

/** Backoff of the background join: first retry, ceiling. */
export const JOIN_BACKOFF = Object.freeze({
  /** First retry after a failed join, ms (then doubled, with +-50% jitter). */
  initialMs: 200,
  /** Largest wait between two join attempts, ms; Membership's re-seed takes over in the long run. */
  maxMs: 5_000,
});

/** Members by state, as the role's health reports them. */
export type MemberCounts = Record<MemberState, number>;

/** Options of {@link MembershipRole}. */
export interface MembershipRoleOptions {
  /**
   * Clock for membership and the join backoff; default the system clock (shifted by
   * `CAIRN_TEST_CLOCK_OFFSET_MS` when set, for tests only: `generation-file.ts`).
   */
  clock?: Clock;
}

/** Something that exposes a running membership node (the agent's HTTP routes look for it). */
export interface MembershipProvider {
  /** The running membership node, or undefined before start and after stop. */
  readonly membership: Membership | undefined;
}

/** True when `role` is a {@link MembershipProvider}. */
export function isMembershipProvider(role: Role): role is Role & MembershipProvider {
  return 'membership' in role;
}

/** The `membership` role. See the file comment for what it starts and how it stops. */
export class MembershipRole implements Role, MembershipProvider {
  readonly name = 'membership' as const;
  private readonly clock: Clock;
  private node: Membership | undefined;
  private muxed: TransportMux | undefined;
  private sealed: SealedTransport | undefined;
  private state: RoleState = 'stopped';
  private joinStatus = 'not started';
  private joinAttempts = 0;
  private logger: Logger | undefined;
  private readonly stopJoin = new AbortController();
  private joining: Promise<void> = Promise.resolve();

  /**
   * @param config - the agent config (bind, advertiseHost, seeds, keyring, membership)
   * @param options - clock; see {@link MembershipRoleOptions}
   */
  constructor(
    private readonly config: AgentConfig,
    options: MembershipRoleOptions = {},
  ) {
    this.clock = options.clock ?? testOffsetClock();
  }

  /** The running membership node; undefined before start and after stop. */
  get membership(): Membership | undefined {
    return this.state === 'running' ? this.node : undefined;
  }

  /** The gossip mux, for bricks that open their own channel; undefined unless running. */
  get mux(): TransportMux | undefined {
    return this.state === 'running' ? this.muxed : undefined;
  }

  /** The advertised gossip address (`host:port`, the real port when configured as 0). */
  get gossipAddress(): string | undefined {
    return this.muxed?.inner.localAddress;
  }

  /** Failed background join attempts so far (a wrong key or no live seed shows here). */
  get failedJoinAttempts(): number {
    return this.joinAttempts;
  }

  async start(ctx: RoleContext): Promise<void> {
    this.state = 'starting';
    this.logger = ctx.logger;
    ctx.signal.addEventListener('abort', () => this.stopJoin.abort(), { once: true });
    const transport = await this.openTransport(ctx);
    try {
      this.muxed = new TransportMux(transport, { logger: ctx.logger });
      const node = await Membership.create({
        identity: ctx.identity,
        transport: this.muxed.channel(MEMBERSHIP_CHANNEL),
        name: ctx.name,
        protocol: membershipProtocol(this.config.membership),
        clock: this.clock,
        logger: ctx.logger,
        metrics: ctx.metrics,
        seeds: this.config.seeds,
        // Beside the node key: a restart, even with the clock stepped back, gets a newer generation.
        generationStore: fileGenerationStore(join(ctx.config.dataDir, GENERATION_FILE_NAME)),
      });
      this.node = node;
      this.logEvents(node, ctx.logger);
    } catch (err) {
      await transport.close().catch(() => {});
      this.state = 'failed';
      throw err;
    }
    this.state = 'running';
    ctx.logger.info(
      {
        gossip: this.gossipAddress,
        preset: this.config.membership.preset,
        seeds: this.config.seeds.length,
        sealed: this.sealed !== undefined,
      },
      'membership started',
    );
    this.joining = this.joinInBackground(this.node!, ctx.logger);
  }

  async stop(): Promise<void> {
    const node = this.node;
    this.state = 'stopping';
    this.stopJoin.abort();
    if (node !== undefined) {
      try {
        // A node that knows no live peer has nobody to tell: leaving would only wait out the timeout.
        if (node.members().some((m) => !m.local && (m.state === 'alive' || m.state === 'suspect'))) {
          await node.leave(this.config.membership.leaveTimeoutMs);
          this.logger?.info('left the cluster');
        }
      } catch (err) {
        this.logger?.warn(
          { err: describeError(err) },
          'graceful leave failed; peers will see this node dead',
        );
      }
      await node.shutdown();
    }
    // Closing the transport also fails a join still dialing an unreachable seed, so the join loop
    // ends now and not after the dial timeout.
    await this.muxed?.close();
    await this.joining;
    this.state = 'stopped';
  }

  health(): RoleHealth {
    if (this.state !== 'running' || this.node === undefined) return { state: this.state };
    const counts: MemberCounts = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.node.members()) counts[m.state]++;
    const peers = counts.alive + counts.suspect - 1;
    const status =
      peers > 0
        ? 'joined'
        : this.joinStatus === 'joined'
          ? 'alone: re-seeding while no peer is known'
          : this.joinStatus;
    return {
      state: 'running',
      detail: `${status}; ${counts.alive} alive, ${counts.suspect} suspect, ${counts.dead} dead, ${counts.left} left`,
      counts,
    };
  }

  /** Binds the gossip transport (sealed when a keyring is configured). */
  private async openTransport(ctx: RoleContext): Promise<Transport> {
    const { bind } = this.config;
    const host = isIP(bind.host) !== 0 ? bind.host : (await lookup(bind.host)).address;
    const advertiseHost = this.config.advertiseHost ?? (isUnspecified(host) ? privateIp(ctx.logger) : host);
    const open = (port: number, advertise: boolean) =>
      NetTransport.create({
        host,
        port,
        ...(advertise ? { advertiseAddress: formatHostPort(advertiseHost, port) } : {}),
        logger: ctx.logger,
        metrics: ctx.metrics,
        clock: this.clock,
        inbound: this.config.transport,
      }).catch((err: unknown) => {
        throw gossipBindError(err, host, port);
      });
    let net: NetTransport;
    if (advertiseHost === host) {
      net = await open(bind.gossipPort, false);
    } else if (bind.gossipPort !== 0) {
      net = await open(bind.gossipPort, true);
    } else {
      // The advertised address needs the port before the transport exists: bind once to learn a
      // free port, then bind it again with the advertised address.
      const probe = await open(0, false);
      const port = Number(probe.boundAddress.slice(probe.boundAddress.lastIndexOf(':') + 1));
      await probe.close();
      net = await open(port, true);
    }
    const keyring = this.config.keyring;
    if (keyring === undefined) return net;
    this.sealed = sealTransport(
      net,
      new Keyring({
        keys: keyring.keys.map(parseKey),
        ...(keyring.label === undefined ? {} : { label: keyring.label }),
      }),
      { logger: ctx.logger, metrics: ctx.metrics, clock: this.clock },
    );
    return this.sealed;
  }

  /**
   * Joins through the configured seeds until one answers or a peer has found this node; gives up
   * only when the role stops. Without seeds this node is the first of its cluster and waits.
   */
  private async joinInBackground(node: Membership, logger: Logger): Promise<void> {
    if (this.config.seeds.length === 0) {
      this.joinStatus = 'no seeds: waiting to be joined';
      return;
    }
    this.joinStatus = 'joining';
    const rng = Rng.fromSeed(Rng.randomSeed());
    const signal = this.stopJoin.signal;
    let delay: number = JOIN_BACKOFF.initialMs;
    while (!signal.aborted) {
      if (node.members().some((m) => !m.local && m.state === 'alive')) break;
      try {
        const answered = await node.join();
        logger.info({ answered, seeds: this.config.seeds.length }, 'joined the cluster');
        break;
      } catch (err) {
        if (signal.aborted || isCairnError(err, 'CLOSED')) return;
        this.joinAttempts++;
        this.joinStatus = `joining: no seed answered yet (${this.joinAttempts} attempts)`;
        logger.debug({ err: describeError(err), attempt: this.joinAttempts }, 'join failed; retrying');
      }
      try {
        await sleep(this.clock, delay * (0.5 + rng.float()), signal);
      } catch {
        return;
      }
      delay = Math.min(delay * 2, JOIN_BACKOFF.maxMs);
    }
    if (!signal.aborted) this.joinStatus = 'joined';
  }

  private logEvents(node: Membership, logger: Logger): void {
    // Names and addresses are the peers' own words: escaped, so a log line cannot be forged.
    const log = (what: string) => (e: { member: { id: string; name: string; address: string } }) =>
      logger.info(
        {
          member: printable(e.member.name),
          id: printable(e.member.id),
          address: printable(e.member.address),
        },
        what,
      );
    node.on('join', log('member joined'));
    node.on('leave', log('member left'));
    node.on('dead', log('member is dead'));
    node.on('suspect', (e) =>
      logger.debug({ member: printable(e.member.name), id: printable(e.member.id) }, 'member is suspect'),
    );
  }
}

/**
 * A gossip bind failure as a sentence naming the port, the side (TCP or UDP: either can be the
 * one taken) and why: `gossip port 7100 (UDP) on 127.0.0.1 is already in use`. Errors without a
 * system cause pass through unchanged.
 */
function gossipBindError(err: unknown, host: string, port: number): unknown {
  const system = systemErrorIn(err);
  if (system === undefined) return err;
  const side = system.syscall === 'listen' ? 'TCP' : system.syscall === 'bind' ? 'UDP' : system.syscall;
  return new CairnError(
    'AGENT_START_FAILED',
    `gossip port ${port} (${side}) on ${host} ${bindFailureReason(system.code)}`,
    { cause: err, details: { host, port, side, code: system.code } },
  );
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The first non-internal IPv4 address (memberlist's choice for an unspecified bind), else loopback. */
function privateIp(logger: Logger): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === 'IPv4' && !info.internal) {
        logger.warn(
          { advertise: info.address },
          'bind.host is unspecified and advertiseHost is not set; advertising the first private address',
        );
        return info.address;
      }
    }
  }
  return '127.0.0.1';
}

/**
 * The running membership role among the roles started before `role`, with its `Membership` and
 * transport mux: what a brick that builds on membership (store, kv) needs.
 *
 * @throws `AGENT_START_FAILED` naming `role` when membership is not running on this node
 */
export function runningMembership(
  started: readonly Role[],
  role: string,
): { role: MembershipRole; membership: Membership; mux: TransportMux } {
  const found = started.find((r): r is MembershipRole => r instanceof MembershipRole);
  const membership = found?.membership;
  const mux = found?.mux;
  if (found === undefined || membership === undefined || mux === undefined) {
    throw new CairnError(
      'AGENT_START_FAILED',
      `the ${role} role needs the membership role running on the same node`,
    );
  }
  return { role: found, membership, mux };
}
