import type { Rng } from '../../core/index.js';
import type { NodeId } from '../../security/index.js';
import type { Digest, DigestEntry, NodeDelta, WireRecord } from './messages.js';
import { digestEntryBytes, nodeDeltaHeaderBytes, wireRecordBytes } from './messages.js';
import type { NodeState } from './node-state.js';
import { arrayHeaderBytes } from './wire-size.js';

/**
 * Delta selection and digest building, pure functions over the node map.
 *
 * `writeDelta` is Scuttlebutt's reconciliation with chitchat's ordering: the nodes the peer lags
 * on most (largest version gap) first, ties in random order, each node's records in version
 * order, stopping at the first record that does not fit. Sizes are accounted incrementally from
 * `wire-size.ts`, never by re-encoding.
 */

/** A delta and its encoded size (array header included). */
export interface SizedDelta {
  readonly delta: NodeDelta[];
  readonly bytes: number;
  /** True when something the peer lacks did not fit. */
  readonly truncated: boolean;
}

interface Candidate {
  readonly state: NodeState;
  readonly from: number;
  readonly withHeartbeat: boolean;
  readonly gap: number;
  readonly order: number;
}

/** What the peer lacks of `s`, or `undefined` when nothing. */
function offer(
  s: NodeState,
  peer: DigestEntry | undefined,
  heartbeats: boolean,
): Omit<Candidate, 'order'> | undefined {
  if (peer !== undefined && peer.generation > s.generation) return undefined;
  if (peer === undefined || peer.generation < s.generation) {
    const withHeartbeat = heartbeats && s.heartbeatRecord !== undefined;
    return { state: s, from: 0, withHeartbeat, gap: s.maxVersion + 1 };
  }
  const needsHeartbeat = heartbeats && s.heartbeat > peer.heartbeat && s.heartbeatRecord !== undefined;
  if (s.maxVersion <= peer.maxVersion && !needsHeartbeat) return undefined;
  // The peer has not seen tombstones we already collected: it must start over (chitchat's rule).
  const reset = peer.maxVersion < s.gcVersion && peer.gcVersion < s.gcVersion;
  const from = reset ? 0 : Math.min(peer.maxVersion, s.maxVersion);
  return { state: s, from, withHeartbeat: needsHeartbeat, gap: s.maxVersion - from };
}

function toWire(r: { version: number; payload: Uint8Array; signature: Uint8Array }): WireRecord {
  return { version: r.version, payload: r.payload, signature: r.signature };
}

/** Limits on one delta. */
export interface DeltaBounds {
  readonly maxRecords: number;
  readonly maxSections: number;
  /**
   * Offer newer heartbeats (default true). Push-pull passes false: every node beats every interval,
   * so a full-size delta would carry one signed heartbeat per member on every sync; anti-entropy
   * packets carry them instead.
   */
  readonly heartbeats?: boolean;
}

/**
 * The delta for a peer whose digest is `peer`, encoded in at most `budgetBytes`.
 *
 * @param nodes - every node state held, the local node's included
 * @param peer - the peer's digest; when partial, only the nodes it lists are offered
 * @param budgetBytes - bound on the encoded delta array
 * @param rng - shuffles nodes of equal staleness
 */
export function writeDelta(
  nodes: ReadonlyMap<NodeId, NodeState>,
  peer: Digest,
  budgetBytes: number,
  rng: Rng,
  bounds: DeltaBounds,
): SizedDelta {
  const known = new Map<NodeId, DigestEntry>();
  for (const e of peer.entries) known.set(e.node, e);
  const candidates: Candidate[] = [];
  const consider = (s: NodeState): void => {
    const c = offer(s, known.get(s.node), bounds.heartbeats ?? true);
    if (c !== undefined) candidates.push({ ...c, order: rng.float() });
  };
  if (peer.partial) {
    for (const e of peer.entries) {
      const s = nodes.get(e.node);
      if (s !== undefined) consider(s);
    }
  } else {
    for (const s of nodes.values()) consider(s);
  }
  candidates.sort((a, b) => b.gap - a.gap || a.order - b.order);

  const delta: NodeDelta[] = [];
  let bytes = arrayHeaderBytes(0);
  let records = 0;
  let truncated = false;
  for (const c of candidates) {
    if (delta.length >= bounds.maxSections) {
      truncated = true;
      break;
    }
    const s = c.state;
    const heartbeat =
      c.withHeartbeat && s.heartbeatRecord !== undefined ? toWire(s.heartbeatRecord) : undefined;
    const head = {
      node: s.node,
      generation: s.generation,
      fromVersion: c.from,
      maxVersion: s.maxVersion,
      gcVersion: s.gcVersion,
      heartbeat,
    };
    const sectionGrowth = arrayHeaderBytes(delta.length + 1) - arrayHeaderBytes(delta.length);
    let size = nodeDeltaHeaderBytes(head, 0);
    if (bytes + sectionGrowth + size > budgetBytes || records + (heartbeat ? 1 : 0) > bounds.maxRecords) {
      truncated = true;
      break;
    }
    const chosen: WireRecord[] = [];
    let complete = true;
    for (const e of s.range(c.from, s.maxVersion)) {
      const r = toWire(e.record);
      const grow = wireRecordBytes(r) + arrayHeaderBytes(chosen.length + 1) - arrayHeaderBytes(chosen.length);
      if (
        bytes + sectionGrowth + size + grow > budgetBytes ||
        records + chosen.length + 1 + (heartbeat ? 1 : 0) > bounds.maxRecords
      ) {
        complete = false;
        break;
      }
      chosen.push(r);
      size += grow;
    }
    const last = chosen[chosen.length - 1];
    const covered = complete ? s.maxVersion : last === undefined ? c.from : last.version;
    if (covered <= c.from && heartbeat === undefined) {
      // Nothing useful fits for this node: stop here so the delta stays a prefix of the order.
      truncated = true;
      break;
    }
    delta.push({ ...head, maxVersion: covered, records: chosen });
    bytes += sectionGrowth + size;
    records += chosen.length + (heartbeat ? 1 : 0);
    if (!complete) {
      truncated = true;
      break;
    }
  }
  return { delta, bytes, truncated };
}

/** The digest entry of a held node state. */
export function digestEntryOf(s: NodeState): DigestEntry {
  return {
    node: s.node,
    generation: s.generation,
    maxVersion: s.maxVersion,
    gcVersion: s.gcVersion,
    heartbeat: s.heartbeat,
  };
}

/**
 * Builds a digest of at most `budgetBytes` encoded bytes (array header included) from entries
 * in priority order; `partial` unless all `total` known nodes made it in.
 *
 * @param ordered - candidate entries, most important first; duplicates are skipped
 * @param total - how many nodes the sender knows
 */
export function fillDigest(
  ordered: Iterable<DigestEntry>,
  total: number,
  budgetBytes: number,
  maxEntries: number,
): Digest {
  const entries: DigestEntry[] = [];
  const seen = new Set<NodeId>();
  let bytes = arrayHeaderBytes(0);
  let knownIncluded = 0;
  for (const e of ordered) {
    if (seen.has(e.node)) continue;
    const grow =
      digestEntryBytes(e) + arrayHeaderBytes(entries.length + 1) - arrayHeaderBytes(entries.length);
    if (bytes + grow > budgetBytes || entries.length >= maxEntries) break;
    seen.add(e.node);
    entries.push(e);
    bytes += grow;
    if (e.generation > 0) knownIncluded++;
  }
  return { entries, partial: knownIncluded < total };
}
