import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { MembershipHistory, Observation, TimelineEvent } from './history.js';

/**
 * The membership checker: a pure function from a recorded history to a verdict and figures.
 *
 * Checked, in the issue's words, with the readings this code takes:
 *
 * 1. **No false deaths.** A death is a group of observations of one member turning `dead` at one
 *    (generation, incarnation): that is one declaration, gossiped. Its time is the first
 *    observation, its declarer the first observer. It is false when, during the `shadowMs`
 *    before it, the member was running and not paused (no outage), no cut touched the member in
 *    either direction (so every node reached it directly), and no node that saw the death within
 *    `attributionSlackMs` of the first was down or paused (any of them may be the real declarer:
 *    the lab reads views over HTTP, and gossip can beat a read by milliseconds). The shadow is
 *    the detector's worst case from a fault to a declaration: a suspicion raised during a fault
 *    may still run out after it heals. Packet loss excuses nothing: a node declared dead under
 *    loss while reachable is a false death, and their count is the figure loss runs measure.
 * 2. **Every killed node declared dead by every live node.** For a kill that lasted at least
 *    `detectBoundMs`, every node that was neither down nor paused during the whole kill must have
 *    seen the killed node `dead` (or already had it dead) before it came back; a node whose view
 *    did not list the killed node when it was killed is not asked to. Shorter kills give
 *    detection figures but are not required to be detected. A kill during a partition or a loss
 *    episode must last `shadowMs` instead: a cut or lost packets can keep a suspicion from being
 *    confirmed (Lifeguard then waits for the longest timeout) and a death's gossip, retransmitted
 *    a bounded number of times, from reaching a node (it then needs its own suspicion to run out).
 *    Such a node is excused when its own suspicion, raised during the kill, had less than
 *    `suspicionWindowMs` to run before the restart (it may have started late: Lifeguard slows a
 *    node's probing while it misses acks).
 * 3. **Time to detect**: per kill, first detection (the fastest node) and full detection (the
 *    slowest live node), from SIGKILL.
 * 4. **All views agree after heal**: every node lists every node `alive` with the same
 *    generation; the run records when that happened, or the views it ended with.
 */

/** Options of {@link checkMembership}. */
export interface MembershipCheckOptions {
  /** Worst case from a fault ending to a declaration it caused, ms (see the file comment). */
  shadowMs: number;
  /** A kill at least this long must be detected by every live node, ms. */
  detectBoundMs: number;
  /** Observers of one death within this of the first may be its declarer, ms. Default 1000. */
  attributionSlackMs?: number;
  /**
   * Longest (unconfirmed) suspicion timeout plus a margin, ms. When given, a node that missed a
   * kill under a net fault is excused if its own suspicion of the killed node, raised during the
   * kill, could not have run out before the restart. Absent (histories saved before it): no excuse.
   */
  suspicionWindowMs?: number;
}

/** A violation of the checker's rules. */
export interface MembershipViolation {
  /** Which rule. */
  kind: 'false-death' | 'undetected-kill' | 'views-disagree';
  /** When (ms since the run epoch). */
  at: number;
  /** A sentence naming the nodes. */
  message: string;
  /** Faults and view changes around it, in time order. */
  around: TimelineEvent[];
}

/** Summary statistics of a list of durations, ms. */
export interface Stats {
  /** How many samples. */
  count: number;
  /** Smallest. */
  min?: number;
  /** Median. */
  median?: number;
  /** 99th percentile (nearest rank). */
  p99?: number;
  /** Largest. */
  max?: number;
}

/** The verdict and the figures of a membership run. */
export interface MembershipResult {
  /** True when no rule was broken. */
  valid: boolean;
  /** Every violation, in time order (the first is the one to read). */
  violations: MembershipViolation[];
  /** The figures. */
  figures: {
    /** Faults injected, by kind. */
    faults: Record<string, number>;
    /** Deaths declared (groups), false or not. */
    deaths: number;
    /** False deaths (see rule 1). */
    falseDeaths: number;
    /** Kills checked for detection (lasting at least the bound). */
    killsChecked: number;
    /** From SIGKILL to the first node's `dead`, per kill. */
    firstDetectMs: Stats;
    /** From SIGKILL to the last live node's `dead`, per kill detected by all. */
    fullDetectMs: Stats;
    /** From the final heal to all views agreeing; absent when they did not. */
    convergeMs?: number;
    /** View changes recorded. */
    observations: number;
  };
}

function overlaps(a0: number, a1: number, b0: number, b1: number): boolean {
  return a0 < b1 && b0 < a1;
}

/** Nearest-rank summary of `samples`. */
export function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) return { count: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { count: s.length, min: s[0]!, median: rank(0.5), p99: rank(0.99), max: s[s.length - 1]! };
}

function describeObservation(o: Observation): string {
  const member = o.member < 0 ? 'an unknown member' : `node-${o.member}`;
  return `node-${o.observer} sees ${member} ${o.from} -> ${o.to} (generation ${o.generation}, incarnation ${o.incarnation})`;
}

/** The timeline of a history: its run events and every view change, in time order. */
export function timelineOf(h: MembershipHistory): TimelineEvent[] {
  const events = [...h.timeline, ...h.observations.map((o) => ({ at: o.at, text: describeObservation(o) }))];
  return events.sort((a, b) => a.at - b.at);
}

/** The events around `at`: at most `maxEventsAroundViolation` on each side. */
export function eventsAround(timeline: readonly TimelineEvent[], at: number): TimelineEvent[] {
  const max = DEFAULT_LIMITS.maxEventsAroundViolation;
  let i = timeline.findIndex((e) => e.at > at);
  if (i === -1) i = timeline.length;
  return timeline.slice(Math.max(0, i - max), i + max);
}

interface Death {
  member: number;
  at: number;
  declarer: number;
  observations: Observation[];
}

function deathsOf(h: MembershipHistory): Death[] {
  const groups = new Map<string, Death>();
  for (const o of h.observations) {
    if (o.to !== 'dead' || o.from === 'dead' || o.member < 0 || o.member === o.observer) continue;
    const key = `${o.member}/${o.generation}/${o.incarnation}`;
    const group = groups.get(key);
    if (group === undefined)
      groups.set(key, { member: o.member, at: o.at, declarer: o.observer, observations: [o] });
    else group.observations.push(o);
  }
  return [...groups.values()].sort((a, b) => a.at - b.at);
}

function isFalseDeath(
  h: MembershipHistory,
  d: Death,
  o: MembershipCheckOptions & { attributionSlackMs: number },
): boolean {
  const from = d.at - o.shadowMs;
  const to = d.at + 1;
  const suspects = new Set([d.member]);
  for (const seen of d.observations) if (seen.at - d.at <= o.attributionSlackMs) suspects.add(seen.observer);
  if (h.outages.some((out) => suspects.has(out.node) && overlaps(out.from, out.to, from, to))) return false;
  return !h.cuts.some(
    (c) => (c.from === d.member || c.to === d.member) && overlaps(c.start, c.end, from, to),
  );
}

/** Observations by `observer/member`, each list in time order. */
function byPair(h: MembershipHistory): Map<string, Observation[]> {
  const pairs = new Map<string, Observation[]>();
  for (const o of h.observations) {
    const key = `${o.observer}/${o.member}`;
    const list = pairs.get(key);
    if (list === undefined) pairs.set(key, [o]);
    else list.push(o);
  }
  return pairs;
}

/**
 * When the lab first read node `x`'s view after its last restart that ended by `at` (the views of
 * a process that is gone are stale until then), or `at` when it had no restart or was read since.
 */
function firstFreshRead(h: MembershipHistory, x: number, at: number): number {
  let restartedAt = -Infinity;
  for (const out of h.outages)
    if (out.node === x && out.kind === 'down' && out.to <= at) restartedAt = Math.max(restartedAt, out.to);
  if (restartedAt === -Infinity) return at;
  const read = h.observations.find((o) => o.observer === x && o.at >= restartedAt);
  return read === undefined ? at : Math.max(at, read.at);
}

function stateAt(list: readonly Observation[], at: number): string {
  let state = 'absent';
  for (const o of list) {
    if (o.at > at) break;
    state = o.to;
  }
  return state;
}

/**
 * Checks a membership history.
 *
 * @returns the verdict (every violation, in time order) and the figures
 * @example
 * ```ts
 * const result = checkMembership(history, { shadowMs: 20_000, detectBoundMs: 8_000 });
 * if (!result.valid) console.log(result.violations[0].message);
 * ```
 */
export function checkMembership(h: MembershipHistory, options: MembershipCheckOptions): MembershipResult {
  const o = { attributionSlackMs: 1000, ...options };
  const timeline = timelineOf(h);
  const violations: Omit<MembershipViolation, 'around'>[] = [];

  const deaths = deathsOf(h);
  let falseDeaths = 0;
  for (const d of deaths) {
    if (!isFalseDeath(h, d, o)) continue;
    falseDeaths++;
    violations.push({
      kind: 'false-death',
      at: d.at,
      message: `node-${d.declarer} declared node-${d.member} dead while it was running, not paused and reachable from every node for the ${o.shadowMs} ms before`,
    });
  }

  const first: number[] = [];
  const full: number[] = [];
  let killsChecked = 0;
  const pairs = byPair(h);
  for (const kill of h.kills) {
    const netFaultDuring =
      h.cuts.some((c) => overlaps(c.start, c.end, kill.from, kill.to)) ||
      (h.losses ?? []).some((l) => overlaps(l.start, l.end, kill.from, kill.to));
    const bound = netFaultDuring ? o.shadowMs : o.detectBoundMs;
    const required = kill.to - kill.from >= bound;
    if (required) killsChecked++;
    const times: number[] = [];
    let missing: number[] = [];
    for (let x = 0; x < h.nodes; x++) {
      if (x === kill.node) continue;
      if (h.outages.some((out) => out.node === x && overlaps(out.from, out.to, kill.from, kill.to))) continue;
      const list = pairs.get(`${x}/${kill.node}`) ?? [];
      const before = stateAt(list, firstFreshRead(h, x, kill.from));
      // A node that did not list the killed one (it had just restarted and not learned it yet) has
      // nothing to declare dead: SWIM ignores a death of a member it never knew.
      if (before === 'absent') continue;
      if (before === 'dead') {
        times.push(0);
        continue;
      }
      const seen = list.find((ob) => ob.to === 'dead' && ob.at >= kill.from && ob.at <= kill.to);
      if (seen === undefined) missing.push(x);
      else times.push(seen.at - kill.from);
    }
    if (times.length > 0) first.push(Math.min(...times));
    if (missing.length === 0 && times.length > 0) full.push(Math.max(...times));
    if (!required) missing = [];
    // Under a cut or loss, a node can start suspecting late (Lifeguard slows the probing of a node
    // that misses acks) and get no confirmation, so its suspicion runs the longest timeout: if
    // that cannot end before the restart, the node is within the protocol, not wrong.
    const window = o.suspicionWindowMs;
    if (netFaultDuring && window !== undefined) {
      missing = missing.filter((x) => {
        const raised = (pairs.get(`${x}/${kill.node}`) ?? []).filter(
          (ob) => ob.to === 'suspect' && ob.at >= kill.from && ob.at <= kill.to,
        );
        const last = raised.at(-1);
        return last === undefined || last.at + window <= kill.to;
      });
    }
    if (missing.length > 0) {
      violations.push({
        kind: 'undetected-kill',
        at: kill.to,
        message: `node-${kill.node} was killed for ${kill.to - kill.from} ms (at least the ${bound} ms bound) and ${missing.map((x) => `node-${x}`).join(', ')} never declared it dead`,
      });
    }
  }

  const convergeMs = h.final.convergedAt === undefined ? undefined : h.final.convergedAt - h.final.healedAt;
  if (convergeMs === undefined) {
    const views = Object.entries(h.final.views)
      .map(
        ([x, view]) =>
          `node-${x}: ${Object.entries(view)
            .map(([m, s]) => `node-${m}=${s}`)
            .join(' ')}`,
      )
      .join('; ');
    violations.push({
      kind: 'views-disagree',
      at: Math.max(h.final.healedAt, ...timeline.map((e) => e.at)),
      message: `after the final heal the views did not agree: ${views}`,
    });
  }

  violations.sort((a, b) => a.at - b.at);
  return {
    valid: violations.length === 0,
    violations: violations.map((v) => ({ ...v, around: eventsAround(timeline, v.at) })),
    figures: {
      faults: h.faultCounts,
      deaths: deaths.length,
      falseDeaths,
      killsChecked,
      firstDetectMs: stats(first),
      fullDetectMs: stats(full),
      ...(convergeMs === undefined ? {} : { convergeMs }),
      observations: h.observations.length,
    },
  };
}
