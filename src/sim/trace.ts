import { Fnv64 } from '../core/index.js';
import { EVENT_KIND_NAMES, EventKind, type SimEvent } from './events.js';

/**
 * The trace of a run: a hash of every delivered event and an optional bounded log for reading.
 *
 * The hash mixes, per event, its virtual time, kind and node, and for network events the sender's
 * and receiver's transport ids and the payload. Two runs with the same hash delivered the same
 * events at the same times in the same order; that is what "same seed, same run" means.
 */
export class Trace {
  private readonly hash = new Fnv64();
  private readonly capacity: number;
  private readonly ring: string[] = [];
  private next = 0;
  private total = 0;

  /** @param logCapacity - lines kept by the log (0 disables it; the newest lines win) */
  constructor(logCapacity: number) {
    this.capacity = logCapacity;
  }

  /** True when the log is on. */
  get logging(): boolean {
    return this.capacity > 0;
  }

  /** Events mixed so far. */
  get events(): number {
    return this.total;
  }

  /** Mixes one delivered event into the hash. */
  mix(ev: SimEvent): void {
    this.total++;
    const h = this.hash;
    h.number(ev.at);
    h.word(ev.kind);
    h.word(ev.node + 1);
    if (ev.kind >= EventKind.packet) {
      h.word(ev.from);
      h.word(ev.to);
      const data = ev.data;
      if (data !== null) h.bytes(data);
    }
  }

  /** Appends a line to the log (a no-op when the log is off). */
  record(line: string): void {
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) this.ring.push(line);
    else this.ring[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The hash so far as 16 hex digits. */
  hex(): string {
    return this.hash.hex();
  }

  /** The log's lines, oldest first. */
  lines(): string[] {
    if (this.ring.length < this.capacity) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}

/** The default one-line description of an event for the trace log. */
export function describeEvent(ev: SimEvent, nodeName: string): string {
  const kind = EVENT_KIND_NAMES[ev.kind] ?? `kind${ev.kind}`;
  const base = `${ev.at.toFixed(3)} ${kind} node=${nodeName}`;
  if (ev.kind < EventKind.packet) return base;
  const len = ev.data === null ? '' : ` len=${ev.data.length}`;
  return `${base} t${ev.from}->t${ev.to}${len}`;
}
