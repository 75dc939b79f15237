import type { Rng } from '../../core/index.js';
import type { NodeId } from '../../security/index.js';
import type { SwimConfig } from './config.js';
import type { DeadlineQueue } from './deadlines.js';
import type { SwimLimits } from './limits.js';
import { nackDelayMs, scaleByAwareness } from './math.js';
import type { MemberEntry, MemberTable } from './members.js';
import type { SwimMessage } from './messages.js';
import type { SwimCounters, SwimFallbackProbe } from './types.js';

/** Timer keys of the prober in the core's {@link DeadlineQueue}. */
export const PROBE_TIMER = 'probe';
export const PROBE_TIMEOUT_TIMER = 'probe-timeout';
/** Prefix of relay timer keys (`r:<seq>`). */
export const RELAY_TIMER_PREFIX = 'r:';

/** What the prober needs from its core: shared state and the core's effects and claim logic. */
export interface ProberHost {
  readonly config: SwimConfig;
  readonly limits: SwimLimits;
  readonly rng: Rng;
  readonly selfId: NodeId;
  readonly table: MemberTable;
  readonly timers: DeadlineQueue;
  readonly stats: SwimCounters;
  /** The step's time. */
  now(): number;
  /** The local health multiplier now. */
  awareness(): number;
  /** Lifeguard: moves the local health multiplier by `delta` (clamped). */
  adjustAwareness(delta: number): void;
  /** Sends `parts` (then piggybacked broadcasts) to `to`. */
  send(to: string, parts: Uint8Array[]): void;
  /** Encodes one message. */
  part(message: SwimMessage): Uint8Array;
  /** Asks the driver for a TCP fallback probe. */
  requestFallback(probe: SwimFallbackProbe): void;
  /** The encoded accusation of a member this node holds suspect, for the buddy system. */
  accusationOf(id: NodeId): Uint8Array | undefined;
  /**
   * What this node holds against `e`, encoded, if it lists `e` as suspect (the accusation) or dead
   * (a fresh signed Dead): sent to `e` when it pings, so that it refutes at once.
   */
  accusationAgainst(e: MemberEntry): Uint8Array | undefined;
  /**
   * Sends `to` the Dead or Leave of `e` if this node lists `e` dead or left (nothing otherwise):
   * the answer to a node that evidently missed it.
   */
  sendDownNotice(to: string, e: MemberEntry): void;
  /** A probe of `target` ended without any ack: suspect it. */
  probeFailed(target: MemberEntry): void;
}

interface Probe {
  readonly seq: number;
  readonly target: MemberEntry;
  readonly generation: number;
  readonly deadlineMs: number;
  acked: boolean;
  /** The probe timeout passed: PingReqs (and the TCP fallback) went out. */
  indirect: boolean;
  expectedNacks: number;
  readonly nacksFrom: NodeId[];
}

interface Relay {
  readonly originSeq: number;
  readonly replyTo: string;
  readonly startMs: number;
  nacked: boolean;
}

/**
 * The probing half of the SWIM core: round-robin probe order, the probe in flight (direct Ping,
 * PingReq through `indirectChecks` members plus the TCP fallback at the probe timeout, suspicion
 * at the end of the interval) and the PingReq relays this node runs for others (forwarding acks,
 * Nack at 80% of the probe timeout). Owned by {@link SwimCore}; not exported from the package.
 */
export class Prober {
  private probe: Probe | undefined;
  private order: MemberEntry[] = [];
  private orderIndex = 0;
  private suspects: MemberEntry[] = [];
  private suspectsHead = 0;
  private readonly relays = new Map<number, Relay>();
  private seq = 0;

  constructor(private readonly host: ProberHost) {}

  /** The probe tick: ends the probe in flight, re-arms, and starts the next probe. */
  onTick(stopped: boolean): void {
    const h = this.host;
    this.conclude();
    if (stopped) return;
    const intervalMs = scaleByAwareness(h.config.probeIntervalMs, h.awareness());
    h.timers.set(PROBE_TIMER, h.now() + intervalMs);
    const target = this.nextTarget();
    if (target === undefined) return;
    const seq = ++this.seq;
    this.probe = {
      seq,
      target,
      generation: target.generation,
      deadlineMs: h.now() + intervalMs,
      acked: false,
      indirect: false,
      expectedNacks: 0,
      nacksFrom: [],
    };
    h.stats.probes++;
    const parts = [h.part({ type: 'Ping', seq, target: target.id, from: h.selfId })];
    const accusation = target.status === 'suspect' ? h.accusationOf(target.id) : undefined;
    if (h.config.lifeguard && accusation !== undefined) parts.push(accusation); // buddy system
    h.send(target.address, parts);
    h.timers.set(PROBE_TIMEOUT_TIMER, h.now() + scaleByAwareness(h.config.probeTimeoutMs, h.awareness()));
  }

  /** Stops probing (graceful leave): the probe in flight is forgotten. */
  stop(): void {
    this.probe = undefined;
    this.host.timers.cancel(PROBE_TIMER);
    this.host.timers.cancel(PROBE_TIMEOUT_TIMER);
  }

  /** Adds a member to this round's probe order at a random position (memberlist's swap). */
  addToOrder(e: MemberEntry): void {
    const list = this.order;
    list.push(e);
    const j = this.host.rng.int(list.length);
    list[list.length - 1] = list[j]!;
    list[j] = e;
  }

  /**
   * Probes `e` at the next probe tick, ahead of the round-robin order (Lifeguard on, once per
   * suspicion): the ping carries the accusation to the suspect (buddy system), whose answer
   * carries back its refutation even if gossip missed this node; or the probe fails and adds an
   * independent confirmation. Bounded by `maxMembers`.
   */
  probeSoon(e: MemberEntry): void {
    if (this.suspects.length - this.suspectsHead < this.host.limits.maxMembers) this.suspects.push(e);
  }

  private nextTarget(): MemberEntry | undefined {
    const { table } = this.host;
    while (this.suspectsHead < this.suspects.length) {
      const e = this.suspects[this.suspectsHead++]!;
      if (e.status === 'suspect' && table.get(e.id) === e) return e;
    }
    this.suspects = [];
    this.suspectsHead = 0;
    let rebuilt = false;
    for (;;) {
      if (this.orderIndex >= this.order.length) {
        if (rebuilt) return undefined;
        rebuilt = true;
        this.order = this.host.rng.shuffle(table.all().filter((e) => e.id !== this.host.selfId && e.up));
        this.orderIndex = 0;
        continue;
      }
      const e = this.order[this.orderIndex++]!;
      if (e.id !== this.host.selfId && e.up && table.get(e.id) === e) return e;
    }
  }

  /** The probe timeout: PingReqs to `indirectChecks` alive members and the TCP fallback. */
  onProbeTimeout(): void {
    const h = this.host;
    const p = this.probe;
    if (p === undefined || p.acked) return;
    p.indirect = true;
    const target = p.target;
    const relays = h.table.sample(
      h.rng,
      h.config.indirectChecks,
      (e) => e.id !== h.selfId && e !== target && e.status === 'alive',
    );
    const req = h.part({
      type: 'PingReq',
      seq: p.seq,
      target: target.id,
      targetAddress: target.address,
      from: h.selfId,
    });
    for (const relay of relays) {
      h.send(relay.address, [req]);
      h.stats.indirectPings++;
    }
    p.expectedNacks = h.config.lifeguard ? relays.length : 0;
    if (h.config.tcpFallback) {
      h.requestFallback({ seq: p.seq, target: target.id, address: target.address, deadlineMs: p.deadlineMs });
      h.stats.fallbackProbes++;
    }
  }

  /** A TCP fallback result for probe `seq`. */
  onFallback(seq: number, ok: boolean): void {
    const p = this.probe;
    if (!ok || p === undefined || p.seq !== seq || p.acked) return;
    p.acked = true;
    this.host.stats.fallbackOnlyAcks++;
  }

  /** Ends the probe in flight: a probe without any ack suspects its target. */
  private conclude(): void {
    const h = this.host;
    const p = this.probe;
    this.probe = undefined;
    h.timers.cancel(PROBE_TIMEOUT_TIMER);
    if (p === undefined || p.acked) return;
    const t = p.target;
    if (h.table.get(t.id) !== t || t.generation !== p.generation || !t.up) return;
    h.stats.probesFailed++;
    if (h.config.lifeguard) {
      // Missing nacks point at this node's own trouble; without relays, any failure does.
      const missed = p.expectedNacks > 0 ? p.expectedNacks - p.nacksFrom.length : 1;
      if (p.expectedNacks > 0) h.stats.nacksMissed += missed;
      h.adjustAwareness(missed);
    }
    h.probeFailed(t);
  }

  /**
   * Acks a ping. An ack to a prober this node does not list as alive asks for its alive record
   * (`needAlive`): gossip is probabilistic and can miss a member; round-robin probing then repairs
   * every such gap within one probe round, without waiting for a push-pull. A prober listed as
   * suspect or dead first gets the accusation, so its answer to `needAlive` is its refutation.
   */
  onPing(from: string, seq: number, target: NodeId, prober: NodeId): void {
    const h = this.host;
    if (target !== h.selfId) {
      h.stats.misdirectedPings++;
      return;
    }
    const known = h.table.get(prober);
    const accusation = known === undefined ? undefined : h.accusationAgainst(known);
    const needAlive = known === undefined || known.status !== 'alive';
    const members = h.table.upCount;
    const ack: SwimMessage = needAlive
      ? { type: 'Ack', seq, from: h.selfId, needAlive: true, members }
      : { type: 'Ack', seq, from: h.selfId, members };
    h.send(from, accusation === undefined ? [h.part(ack)] : [accusation, h.part(ack)]);
  }

  /** Relays a PingReq: pings the target with a local seq and remembers whom to answer. */
  onPingReq(from: string, originSeq: number, target: NodeId, targetAddress: string): void {
    const h = this.host;
    if (target === h.selfId) {
      h.send(from, [h.part({ type: 'Ack', seq: originSeq, from: h.selfId })]);
      return;
    }
    // A requester probing a member this node lists dead or left missed the death or leave (cut
    // off while its broadcasts ran out): tell it, or it learns only when its own suspicion runs
    // the unconfirmed maximum, since every member that knows drops that suspicion as stale. The
    // target is still pinged, as memberlist's relay does: the requester decides on what it hears.
    const known = h.table.get(target);
    if (known !== undefined) h.sendDownNotice(from, known);
    if (this.relays.size >= h.limits.maxPendingRelays) {
      h.stats.relaysRejected++;
      return;
    }
    const seq = ++this.seq;
    this.relays.set(seq, { originSeq, replyTo: from, startMs: h.now(), nacked: false });
    h.send(targetAddress, [h.part({ type: 'Ping', seq, target, from: h.selfId })]);
    h.timers.set(RELAY_TIMER_PREFIX + seq, h.now() + nackDelayMs(h.config.probeTimeoutMs));
  }

  /** A relay timer: the Nack at 80% of the probe timeout, then forgetting at 100%. */
  onRelayTimer(seq: number): void {
    const h = this.host;
    const relay = this.relays.get(seq);
    if (relay === undefined) return;
    if (relay.nacked) {
      this.relays.delete(seq);
      return;
    }
    relay.nacked = true;
    if (h.config.lifeguard) {
      h.send(relay.replyTo, [h.part({ type: 'Nack', seq: relay.originSeq, from: h.selfId })]);
    }
    // Keep forwarding a late ack until the full probe timeout, as memberlist's ack handler does.
    h.timers.set(RELAY_TIMER_PREFIX + seq, relay.startMs + h.config.probeTimeoutMs);
  }

  /** An ack: completes our probe, or is forwarded to the node we relay for. */
  onAck(seq: number): void {
    const h = this.host;
    const p = this.probe;
    if (p !== undefined && p.seq === seq) {
      if (p.acked) return;
      p.acked = true;
      h.timers.cancel(PROBE_TIMEOUT_TIMER);
      if (!p.indirect && h.config.lifeguard) h.adjustAwareness(-1);
      return;
    }
    const relay = this.relays.get(seq);
    if (relay !== undefined) {
      this.relays.delete(seq);
      h.timers.cancel(RELAY_TIMER_PREFIX + seq);
      h.send(relay.replyTo, [h.part({ type: 'Ack', seq: relay.originSeq, from: h.selfId })]);
      return;
    }
    h.stats.unmatchedAcks++;
  }

  /** A relay's Nack for our probe: the relay is working, so the silence is the target's. */
  onNack(seq: number, from: NodeId): void {
    const p = this.probe;
    if (p === undefined || p.seq !== seq || !p.indirect || p.nacksFrom.includes(from)) {
      this.host.stats.unmatchedAcks++;
      return;
    }
    if (p.nacksFrom.length < p.expectedNacks) {
      p.nacksFrom.push(from);
      this.host.stats.nacksReceived++;
    }
  }
}
