import { CairnError, describeError, type Rng } from '../../core/index.js';
import type { Address } from '../../transport/types.js';
import type { DiscoveryProvider } from '../discovery/index.js';
import { type Reconnector, summaryAccusesSelf } from '../reconnect.js';
import { memberKey } from '../swim/index.js';
import type { MemberSummary } from '../sync/summary.js';
import { assertRunning, type Driver } from './context.js';

/** Options of {@link PushPullDriver}. */
export interface PushPullOptions {
  /** Seed addresses for `join()` without arguments and for re-seeding. */
  seeds: readonly Address[];
  /** Discovery providers asked for seeds at `join()` and whenever no live peer is known. */
  discovery: readonly DiscoveryProvider[];
  /** Picks members declared dead to push-pull with (`reconnect.ts`). */
  reconnector: Reconnector;
  /** The reconnect timer's own random stream. */
  reconnectRng: Rng;
}

/**
 * Drives push-pull (`sync/session.ts`) from this node's side: joins through seeds, the periodic
 * sync with a random peer, catch-up syncs after a sync that taught members, re-seeding when no
 * live peer is left, and syncs with members declared dead so healed partitions merge.
 */
export class PushPullDriver {
  constructor(
    private readonly d: Driver,
    private readonly o: PushPullOptions,
  ) {}

  /**
   * Joins through `seeds` (default: the configured seeds and discovery providers): a push-pull
   * sync with each, in parallel. Resolves with the number of seeds that answered.
   *
   * @throws CairnError `MEMBERSHIP_NOT_JOINED` when seeds were given and none answered; `CLOSED`
   */
  async join(seeds?: readonly Address[]): Promise<number> {
    assertRunning(this.d);
    const targets = seeds ?? (await this.discoverSeeds());
    const others = [...new Set(targets)].filter((a) => a !== this.d.channels.swim.localAddress);
    if (others.length === 0) return 0;
    const results = await Promise.all(others.map((address) => this.pushPull(address)));
    const ok = results.filter(Boolean).length;
    if (ok === 0) {
      throw new CairnError('MEMBERSHIP_NOT_JOINED', `no seed answered: ${others.join(', ')}`, {
        details: { seeds: others },
      });
    }
    return ok;
  }

  /** One push-pull with `address`, counted; a sync that taught members schedules a catch-up. */
  async pushPull(address: Address): Promise<boolean> {
    const d = this.d;
    d.stats.counters.syncsStarted++;
    const before = d.swim.size;
    const ok = await d.sync.run(address);
    if (ok) d.stats.counters.syncsCompleted++;
    else d.stats.counters.syncsFailed++;
    if (ok && d.swim.size > before) this.catchUp(address);
    return ok;
  }

  /**
   * A sync with `taught` just taught this node members it did not know, so that peer knew more,
   * and in a mass join it keeps learning (every joiner pushed its record to the seed it joined
   * through): sync with it again `catchUpDelayMs` later, and so on until a sync brings nothing
   * new. In a stable cluster nothing triggers it. A sync moves only what one side lacks
   * (`sync/summary.ts`), so a follow-up costs a summary.
   */
  private catchUp(taught: Address): void {
    const d = this.d;
    if (d.stopped || d.timers.has('catch-up')) return;
    d.timers.set(
      'catch-up',
      d.clock.setTimer(d.protocol.catchUpDelayMs, () => {
        d.timers.delete('catch-up');
        if (d.stopped) return;
        d.stats.counters.catchUpSyncs++;
        void this.pushPull(taught);
      }),
    );
  }

  /** The periodic push-pull with a random live peer. */
  periodicPushPull(): void {
    const peer = this.d.swim.randomAlivePeer(this.d.rng);
    if (peer !== undefined) void this.pushPull(peer.address);
  }

  /** Peer sampling's view, when PeX runs: the fallback seed source. */
  samplePeers(k: number): Address[] {
    return this.d.pex === undefined ? [] : this.d.pex.sample(k).map((d) => d.address);
  }

  private async discoverSeeds(): Promise<Address[]> {
    const out = [...this.o.seeds, ...this.samplePeers(this.d.protocol.swim.gossipNodes)];
    for (const provider of this.o.discovery) {
      try {
        out.push(...(await provider.discover()));
      } catch (err) {
        this.d.logger.debug({ err: describeError(err), provider: provider.name }, 'discovery failed');
      }
    }
    return out;
  }

  /** With no live peer left, joins again through the seeds, discovery and PeX view. */
  reseedIfAlone(): void {
    const d = this.d;
    if (this.o.seeds.length === 0 && this.o.discovery.length === 0 && d.pex === undefined) return;
    if (d.swim.hasAlivePeer()) return;
    d.stats.counters.reseeds++;
    for (const seed of this.o.seeds) d.pex?.exchangeWith(seed);
    void this.join().catch((err: unknown) =>
      d.logger.debug({ err: describeError(err) }, 're-seed found no live seed'),
    );
  }

  /** Push-pull with one member declared dead, so halves of a healed partition merge (`reconnect.ts`). */
  reconnect(): void {
    const d = this.d;
    const { reconnector } = this.o;
    const target = reconnector.pick(d.clock.now(), d.swim.upMembers, this.o.reconnectRng);
    if (target === undefined) return;
    d.stats.counters.reconnects++;
    void this.pushPull(target.address).then((ok) => {
      const status = d.swim.member(target.id)?.status;
      if (ok) reconnector.settled(target.id, status === 'alive' || status === 'suspect');
    });
  }

  /** A push-pull dialer lists this node dead or suspect: refute (a new incarnation) before answering. */
  refuteIfAccused(summary: MemberSummary): void {
    const d = this.d;
    const self = { key: memberKey(d.id), generation: d.generation, incarnation: d.swim.incarnation };
    if (d.swim.member(d.id)?.status !== 'alive' || !summaryAccusesSelf(summary, self)) return;
    d.swimDriver.input({ type: 'update-local' });
  }
}
