import { Gauge } from 'prom-client';
import type { Metrics } from '../../core/index.js';
import type { Driver } from './context.js';
import type { MembershipStats } from './options.js';

/** The node's counters, and the sum of records refused on every path (gossip, push-pull, state). */
export class DriverStats {
  readonly counters: MembershipStats = {
    packetsReceived: 0,
    packetsSent: 0,
    malformed: 0,
    rejectedRecords: 0,
    syncsStarted: 0,
    syncsCompleted: 0,
    syncsFailed: 0,
    triggeredSyncs: 0,
    catchUpSyncs: 0,
    syncProtocolErrors: 0,
    syncOverBudget: 0,
    reseeds: 0,
    reconnects: 0,
    userMessages: 0,
    directRefused: 0,
    phiSuspicions: 0,
  };
  /** Records refused by this driver (SWIM broadcasts, user messages); the state core counts its own. */
  private rejectedHere = 0;

  constructor(private readonly d: Driver) {}

  /** The counters with the sums refreshed (a live view). */
  snapshot(): Readonly<MembershipStats> {
    this.countRejections();
    this.counters.syncProtocolErrors = this.d.sync.protocolErrors;
    this.counters.syncOverBudget = this.d.sync.overBudget;
    return this.counters;
  }

  /** Refreshes `stats.rejectedRecords`: records refused here, in push-pull, and by the state core. */
  countRejections(): void {
    const r = this.d.state.stats.rejected;
    this.counters.rejectedRecords =
      this.rejectedHere + this.d.sync.rejected + r.unsigned + r.forged + r.malformed + r.limit + r.budget;
  }

  /** Counts one record refused by the driver itself. */
  reject(): void {
    this.rejectedHere++;
    this.countRejections();
  }
}

/** Registers the `cairn_membership_*` gauges, read from the node's cores and counters when scraped. */
export function registerMetrics(metrics: Metrics, d: Driver): void {
  const swim = d.swim;
  const stats = () => d.stats.snapshot();
  new Gauge({
    name: 'cairn_membership_members',
    help: 'Members this node knows, by state.',
    labelNames: ['state'],
    registers: [metrics.registry],
    collect() {
      const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of swim.members()) byState[m.status] = (byState[m.status] ?? 0) + 1;
      for (const [state, n] of Object.entries(byState)) this.set({ state }, n);
    },
  });
  const state = d.state;
  new Gauge({
    name: 'cairn_membership_records_rejected_total',
    help: 'Scuttlebutt records not applied, by reason (a count; it only grows).',
    labelNames: ['reason'],
    registers: [metrics.registry],
    collect() {
      for (const [reason, n] of Object.entries(state.stats.rejected)) this.set({ reason }, n);
    },
  });
  new Gauge({
    name: 'cairn_membership_state_bytes',
    help: 'Bytes of Scuttlebutt records kept, all nodes (bounded by maxStateBytes).',
    registers: [metrics.registry],
    collect() {
      this.set(state.stateBytes);
    },
  });
  new Gauge({
    name: 'cairn_membership_state_nodes',
    help: 'Nodes whose Scuttlebutt state is kept, this node included.',
    registers: [metrics.registry],
    collect() {
      this.set(state.nodes().length);
    },
  });
  new Gauge({
    name: 'cairn_membership_stat',
    help: 'Membership counters (see MembershipStats); they only grow.',
    labelNames: ['counter'],
    registers: [metrics.registry],
    collect() {
      for (const [counter, n] of Object.entries(stats())) this.set({ counter }, n);
    },
  });
}
