import { EVENT_KIND_NAMES, EventKind, type SimEvent } from './events.js';

/**
 * 64-bit FNV-1a, bit for bit the same as core's `Fnv64` (so trace hashes are unchanged), kept in
 * two 32-bit halves with the byte loop on locals: the trace hashes every packet's bytes, which was
 * the simulator's largest single cost in big membership runs.
 *
 * One step: `h = (h ^ byte) * (2^40 + 0x1b3) mod 2^64`. With `h = hi * 2^32 + lo`:
 * `lo * 0x1b3` is below 2^41 (exact in a double), its high part carries into `hi`, and the `2^40`
 * term adds `lo << 8` to `hi` (mod 2^32).
 */
export class TraceHash {
  private lo = 0x84222325;
  private hi = 0xcbf29ce4;

  /** Mixes one byte. */
  byte(x: number): this {
    const lo = (this.lo ^ (x & 0xff)) >>> 0;
    const t = lo * 0x1b3;
    this.hi = (this.hi * 0x1b3 + Math.floor(t / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
    this.lo = t >>> 0;
    return this;
  }

  /** Mixes one unsigned 32-bit word (as four bytes, little-endian). */
  word(x: number): this {
    this.byte(x & 0xff);
    this.byte((x >>> 8) & 0xff);
    this.byte((x >>> 16) & 0xff);
    return this.byte((x >>> 24) & 0xff);
  }

  /** Mixes a number (its integer and fractional parts, so 1.5 and 1 differ). */
  number(x: number): this {
    const int = Math.floor(x);
    this.word(int >>> 0);
    this.word(Math.floor(int / 0x100000000) >>> 0);
    return this.word(Math.round((x - int) * 1e6) >>> 0);
  }

  /** Mixes bytes and their length. */
  bytes(b: Uint8Array): this {
    this.word(b.length);
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < b.length; i++) {
      lo = (lo ^ b[i]!) >>> 0;
      const t = lo * 0x1b3;
      hi = (hi * 0x1b3 + Math.floor(t / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
      lo = t >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  /** The hash as 16 hex digits (the same text as `Fnv64.hex()`). */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

/**
 * The trace of a run: a hash of every delivered event and an optional bounded log for reading.
 *
 * The hash mixes, per event, its virtual time, kind and node, and for network events the sender's
 * and receiver's transport ids and the payload. Two runs with the same hash delivered the same
 * events at the same times in the same order; that is what "same seed, same run" means.
 */
export class Trace {
  private readonly hash = new TraceHash();
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
