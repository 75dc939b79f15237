import type { MemberState } from '../../../membership/types.js';

/**
 * What the membership workload records during a run, in the lab's clock (ms since the run's
 * epoch): the faults as they happened, the process outages they caused, and every change of every
 * node's view of every member. The checker (check.ts) reads only this, so a history can be
 * written by hand in a test, or saved and checked again.
 */

/** A member's state in one view, or `absent` when the view does not list it. */
export type ViewState = MemberState | 'absent';

/** One change of one node's view of one member, as the lab's watcher saw it. */
export interface Observation {
  /** When the lab saw the change (ms since the run epoch). */
  at: number;
  /** Index of the node whose view changed. */
  observer: number;
  /** Index of the member, or -1 for an id that is no node of the run. */
  member: number;
  /** State before (`absent` when the view did not list the member, or the observer restarted). */
  from: ViewState;
  /** State after. */
  to: ViewState;
  /** The member's generation in the view after the change. */
  generation: number;
  /** The member's incarnation in the view after the change. */
  incarnation: number;
}

/** A time a node's process could not take part: killed or restarting (`down`), or stopped (`paused`). */
export interface Outage {
  /** Node index. */
  node: number;
  /** Why. */
  kind: 'down' | 'paused';
  /** Start, ms since the run epoch. */
  from: number;
  /** End (running and answering again), ms since the run epoch. */
  to: number;
}

/** A directed cut as it happened: packets from `from` to `to` were dropped during [start, end). */
export interface CutRecord {
  /** Sending node. */
  from: number;
  /** Receiving node. */
  to: number;
  /** When the rule was in place. */
  start: number;
  /** When it was removed. */
  end: number;
}

/** A loss episode as it happened: `percent` of packets between lab nodes dropped during [start, end). */
export interface LossRecord {
  /** Loss rate, percent. */
  percent: number;
  /** When the rules were in place. */
  start: number;
  /** When they were removed. */
  end: number;
}

/** A kill -9 as it happened: the node was down during [from, to) (to = running again). */
export interface KillRecord {
  /** Node index. */
  node: number;
  /** When SIGKILL was sent. */
  from: number;
  /** When the restarted agent answered `/health`. */
  to: number;
}

/** One line of the run's timeline, for the events printed around a violation. */
export interface TimelineEvent {
  /** ms since the run epoch. */
  at: number;
  /** A sentence. */
  text: string;
}

/** The end of the run: heal, then the wait for every view to agree. */
export interface FinalViews {
  /** When every fault had been healed and every node was running. */
  healedAt: number;
  /** When all views agreed (every node lists every node alive, same generations), if they did. */
  convergedAt?: number;
  /** The last view of each node: member index -> `state@generation`. */
  views: Record<number, Record<number, string>>;
}

/** Everything the checker needs. */
export interface MembershipHistory {
  /** Number of nodes. */
  nodes: number;
  /** Fault counts by kind, for the figures. */
  faultCounts: Record<string, number>;
  /** Cuts (partitions). */
  cuts: CutRecord[];
  /** Loss episodes (absent in histories saved before they were recorded). */
  losses?: LossRecord[];
  /** Kills (also outages). */
  kills: KillRecord[];
  /** Every outage (kills, restarts of skew faults, pauses). */
  outages: Outage[];
  /** View changes in time order. */
  observations: Observation[];
  /** Faults and other run events, for context. */
  timeline: TimelineEvent[];
  /** The end of the run. */
  final: FinalViews;
}
