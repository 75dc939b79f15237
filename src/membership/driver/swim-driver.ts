import type { Address } from '../../transport/types.js';
import type { FallbackProber } from '../fallback.js';
import type { Reconnector } from '../reconnect.js';
import {
  decodeCompound,
  decodeSwimMessage,
  isBroadcastMessage,
  openBroadcast,
  type SwimEffects,
  type SwimEvent,
  type SwimInput,
  type SwimMember,
  writeCompound,
} from '../swim/index.js';
import type { Member } from '../types.js';
import type { Driver } from './context.js';

/**
 * Drives the SWIM core: feeds it inputs one step at a time, carries out each step's effects
 * (packets, then fallback probes, then events, then the next timer), and turns SWIM packets from
 * the wire into inputs. Broadcast records are verified here, before the core sees them.
 */
export class SwimDriver {
  private inStep = false;
  private readonly pending: SwimInput[] = [];

  constructor(
    private readonly d: Driver,
    private readonly fallback: FallbackProber,
    private readonly reconnector: Reconnector,
  ) {}

  /** Feeds one input to the SWIM core and carries out its effects (re-entrant calls are queued). */
  input(input: SwimInput): void {
    if (this.d.stopped) return;
    this.pending.push(input);
    if (this.inStep) return;
    this.inStep = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        this.apply(this.d.swim.step(next, this.d.clock.now()));
      }
    } finally {
      this.inStep = false;
    }
  }

  private apply(fx: SwimEffects): void {
    const d = this.d;
    for (const packet of fx.packets) {
      d.stats.counters.packetsSent++;
      // A scratch view, valid until the next packet: sendPacket keeps nothing of it.
      d.channels.swim.sendPacket(packet.to, writeCompound(packet.parts));
    }
    for (const probe of fx.fallbackProbes) this.fallback.probe(probe);
    for (const event of fx.events) this.onSwimEvent(event);
    const old = d.timers.get('swim');
    if (old !== undefined) d.clock.cancel(old);
    if (fx.timerAtMs === undefined) {
      d.timers.delete('swim');
    } else {
      const delay = Math.max(0, fx.timerAtMs - d.clock.now());
      d.timers.set(
        'swim',
        d.clock.setTimer(delay, () => this.input({ type: 'tick' })),
      );
    }
  }

  /** One packet on the SWIM channel: its parts, each decoded, verified when a broadcast, then fed. */
  onSwimPacket(from: Address, data: Uint8Array): void {
    const d = this.d;
    d.stats.counters.packetsReceived++;
    const parts = decodeCompound(data);
    if (!parts.ok) {
      d.stats.counters.malformed++;
      return;
    }
    for (const part of parts.value) {
      const decoded = decodeSwimMessage(part);
      if (!decoded.ok) {
        d.stats.counters.malformed++;
        continue;
      }
      const message = decoded.value;
      if (message.type === 'User') {
        d.messages.onPiggyback(message.data);
      } else if (isBroadcastMessage(message)) {
        const opened = openBroadcast(message, d.scheme);
        if (!opened.ok) {
          d.stats.reject();
          continue;
        }
        this.input({ type: 'message', from, message: opened.value });
      } else {
        this.input({ type: 'message', from, message });
        if (message.type === 'Ack' && message.members !== undefined)
          d.antiEntropy.syncIfAckerKnowsMore(from, message.members);
      }
    }
  }

  private onSwimEvent(event: SwimEvent): void {
    const d = this.d;
    if (event.member.id !== d.id)
      this.reconnector.onEvent(event.type, event.member.id, event.member.address, d.clock.now());
    // A newer generation drops the old one's key/value state before anyone sees the member.
    if (event.restarted && event.type !== 'reap') {
      d.antiEntropy.onStateEvents(d.state.noteNode(event.member.id, event.member.generation));
    }
    if (event.type === 'reap') {
      d.state.forget(event.member.id);
      d.phi?.remove(event.member.id);
      return;
    }
    const member = toMember(d, event.member);
    switch (event.type) {
      case 'update':
        d.hub.publish({ type: 'alive', member });
        return;
      case 'join':
        if (!member.local) d.pex?.seed([event.member.address]);
        d.hub.publish({ type: 'join', member });
        return;
      case 'alive':
      case 'suspect':
      case 'dead':
      case 'leave':
        if (event.type === 'dead' || event.type === 'leave') d.phi?.remove(event.member.id);
        d.hub.publish({ type: event.type, member });
        return;
    }
  }
}

/** The public view of a SWIM member, with its key/value metadata. */
export function toMember(d: Driver, m: SwimMember): Member {
  const metadata = d.state.valuesOf(m.id);
  return {
    id: m.id,
    name: m.name,
    address: m.address,
    state: m.status,
    incarnation: m.incarnation,
    generation: m.generation,
    metadata,
    local: m.id === d.id,
    stateSinceMs: m.statusSinceMs,
  };
}
