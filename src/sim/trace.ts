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
  private readonly lanes = new Uint32Array(2);
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
      if (data !== null) {
        // The payload goes in as two 32-bit lane hashes (4 bytes per step) rather than byte by
        // byte: every byte still counts, at a fraction of the cost (the byte loop was an eighth of
        // a large membership simulation's time).
        payloadLanes(data, this.lanes);
        h.word(data.length);
        h.word(this.lanes[0]!);
        h.word(this.lanes[1]!);
      }
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

/** True on little-endian hosts, where an `Int32Array` reads the words {@link payloadLanes} assembles. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Two independent 32-bit multiplicative hashes of `data` (murmur-style mixing, 4 bytes per step,
 * the tail byte by byte), written to `out`. Deterministic on every platform (little-endian reads).
 */
export function payloadLanes(data: Uint8Array, out: Uint32Array): void {
  let a = 0x9747b28c;
  let b = 0x5bd1e995;
  const n = data.length;
  const words = n >>> 2;
  let i = 0;
  if (LITTLE_ENDIAN && words >= 64 && (data.byteOffset & 3) === 0) {
    // Large aligned payloads (sync frames) read a word at a time: the same words, one load each.
    const view = new Int32Array(data.buffer, data.byteOffset, words);
    for (let w = 0; w < words; w++) {
      const k = view[w]!;
      a = Math.imul(a ^ k, 0xcc9e2d51);
      a = (a << 13) | (a >>> 19);
      b = Math.imul(b + k, 0x1b873593);
      b = (b << 15) | (b >>> 17);
    }
    i = words * 4;
  } else {
    for (let w = 0; w < words; w++, i += 4) {
      const k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
      a = Math.imul(a ^ k, 0xcc9e2d51);
      a = (a << 13) | (a >>> 19);
      b = Math.imul(b + k, 0x1b873593);
      b = (b << 15) | (b >>> 17);
    }
  }
  for (; i < n; i++) {
    a = Math.imul(a ^ data[i]!, 0x01000193);
    b = Math.imul(b + data[i]!, 0x85ebca6b);
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 13;
  out[0] = a >>> 0;
  out[1] = b >>> 0;
}
