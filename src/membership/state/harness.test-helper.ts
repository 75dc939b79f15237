import { Rng } from '../../core/index.js';
import { NodeIdentity, type SignatureScheme, type SignedRecord } from '../../security/index.js';
import { ScuttlebuttState } from './cluster-state.js';
import type { StateConfig } from './config.js';
import type { StateEvent } from './events.js';
import { decodeStateMessage, encodeStateMessage, type StateMessage } from './messages.js';
import { decodeStatePayload, type StateValue } from './records.js';

/** Deterministic identities for tests. */
export function identities(n: number, seed: string): NodeIdentity[] {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: n }, () => NodeIdentity.fromSeed(rng.bytes(32)));
}

/** Sends a message through the real codec, as a transport would. */
export function wire<M extends StateMessage>(m: M): M {
  const decoded = decodeStateMessage(encodeStateMessage(m));
  if (decoded === undefined) throw new Error(`message did not decode: ${m.type}`);
  return decoded as M;
}

/** One Syn/SynAck/Ack exchange from `a` to `b`, each message lost with probability `loss`. */
export function exchange(
  a: ScuttlebuttState,
  b: ScuttlebuttState,
  nowMs: number,
  rng: Rng,
  loss = 0,
  mtuBytes?: number,
): StateEvent[] {
  const events: StateEvent[] = [];
  const syn = a.createSyn(mtuBytes);
  if (rng.chance(loss)) return events;
  const synAck = b.handleSyn(wire(syn), nowMs, mtuBytes).reply;
  if (synAck === undefined || rng.chance(loss)) return events;
  const step = a.handleSynAck(wire(synAck), nowMs, mtuBytes);
  events.push(...step.events);
  if (step.reply === undefined || rng.chance(loss)) return events;
  events.push(...b.handleAck(wire(step.reply), nowMs).events);
  return events;
}

/** A node's owner log: every kv record it signed, for the reference model. */
export class OwnerLog {
  readonly records: SignedRecord[] = [];
  observe(events: readonly StateEvent[]): void {
    for (const e of events) if (e.type === 'localRecord') this.records.push(e.record);
  }
  /** The latest record of each key (by version) of `generation`. */
  latest(generation: number): Map<string, { version: number; value: StateValue | null }> {
    const out = new Map<string, { version: number; value: StateValue | null }>();
    for (const r of this.records) {
      const p = decodeStatePayload(r.payload);
      if (p === undefined || p.type !== 'kv' || p.generation !== generation) continue;
      const cur = out.get(p.key);
      if (cur === undefined || cur.version < r.version)
        out.set(p.key, { version: r.version, value: p.value });
    }
    return out;
  }
}

/** Visible map of `node` as `state` holds it, values rendered for deep comparison. */
export function visible(state: ScuttlebuttState, node: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of state.entries(node)) out.set(k, render(v));
  return out;
}

/** A value as a comparable string. */
export function render(v: StateValue | null | undefined): string {
  if (v === null || v === undefined) return '<none>';
  return typeof v === 'string' ? `s:${v}` : `b:${Buffer.from(v).toString('hex')}`;
}

/**
 * The Scuttlebutt invariant against the owner's log: every key whose latest record is at or
 * below the receiver's watermark must read as the owner's latest value. Returns a description of
 * the first violation, or undefined.
 */
export function invariantViolation(
  receiver: ScuttlebuttState,
  owner: ScuttlebuttState,
  log: OwnerLog,
): string | undefined {
  const info = receiver.nodeInfo(owner.self);
  if (info === undefined || info.generation !== owner.generation) return undefined;
  for (const [key, latest] of log.latest(owner.generation)) {
    if (latest.version > info.maxVersion) continue;
    const got = render(receiver.get(owner.self, key));
    const want = render(latest.value);
    if (got !== want)
      return `key ${key}: receiver has ${got}, owner's latest (v${latest.version}) is ${want}, watermark ${info.maxVersion}`;
  }
  for (const [key] of receiver.entries(owner.self)) {
    if (!log.latest(owner.generation).has(key)) return `key ${key} was never written by the owner`;
  }
  return undefined;
}

/** Builds a node with test-sized config. */
export function makeNode(
  identity: NodeIdentity,
  generation: number,
  scheme: SignatureScheme,
  config: Partial<StateConfig> = {},
): ScuttlebuttState {
  return new ScuttlebuttState({
    identity,
    generation,
    scheme,
    config,
    rng: Rng.fromSeed(`t/${identity.nodeId}/${generation}`),
  });
}
