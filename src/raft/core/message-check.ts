import {
  type Entry,
  type Message,
  type MessageType,
  NETWORK_MESSAGE_TYPES,
  type NodeId,
  type Snapshot,
} from '../types.js';

/** Why the core dropped a message from the network; counted in {@link RaftCore.stats}. */
export type DropReason =
  | 'malformed'
  | 'localType'
  | 'wrongRecipient'
  | 'fromSelf'
  | 'tooManyEntries'
  | 'staleTerm'
  | 'unknownPeer'
  | 'leaseVoteIgnored'
  | 'proposalDropped'
  | 'readIndexDropped'
  | 'commitConflict'
  | 'commitBeyondLog'
  | 'unexpected'
  | 'queueFull';

/** The message types that cross the network; the others are created inside the core. */
const NETWORK_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(NETWORK_MESSAGE_TYPES);

/** The message types only the core itself creates. */
const LOCAL_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'hup',
  'beat',
  'unreachable',
  'snapStatus',
  'checkQuorum',
]);

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isNodeId(x: unknown): x is NodeId {
  return isIndex(x) && x > 0;
}

function isIdList(x: unknown): boolean {
  return Array.isArray(x) && x.length <= 10_000 && x.every(isNodeId);
}

function checkEntry(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<string, unknown>;
  return (
    isIndex(x.term) &&
    isIndex(x.index) &&
    (x.type === 'normal' || x.type === 'conf') &&
    x.data instanceof Uint8Array
  );
}

function checkSnapshot(s: unknown): s is Snapshot {
  if (typeof s !== 'object' || s === null) return false;
  const x = s as Record<string, unknown>;
  const meta = x.meta as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null || !(x.data instanceof Uint8Array)) return false;
  const cs = meta.confState as Record<string, unknown> | undefined;
  return (
    isIndex(meta.index) &&
    meta.index > 0 &&
    isIndex(meta.term) &&
    typeof cs === 'object' &&
    cs !== null &&
    isIdList(cs.voters) &&
    isIdList(cs.learners)
  );
}

/**
 * Checks a message from the network before the core acts on it: field types, addressing, bounds
 * and the shape each type requires (an `app`'s entries follow its index contiguously with terms
 * that never decrease and never exceed the message's term). Returns the reason to drop it, or
 * `undefined` when it is well formed. Never throws.
 */
export function checkMessage(
  m: Message,
  self: NodeId,
  limits: { maxEntriesPerMsg: number; maxContextBytes: number },
): DropReason | undefined {
  if (typeof m !== 'object' || m === null) return 'malformed';
  if (!NETWORK_TYPES.has(m.type)) return LOCAL_TYPES.has(m.type) ? 'localType' : 'malformed';
  if (!isNodeId(m.from) || !isIndex(m.to)) return 'malformed';
  if (m.to !== self) return 'wrongRecipient';
  if (m.from === self) return 'fromSelf';
  if (
    !isIndex(m.term) ||
    !isIndex(m.logTerm) ||
    !isIndex(m.index) ||
    !isIndex(m.commit) ||
    !isIndex(m.rejectHint)
  ) {
    return 'malformed';
  }
  if (typeof m.reject !== 'boolean' || !Array.isArray(m.entries)) return 'malformed';
  if (m.entries.length > limits.maxEntriesPerMsg) return 'tooManyEntries';
  for (const e of m.entries) if (!checkEntry(e)) return 'malformed';
  if (
    m.context !== undefined &&
    (!(m.context instanceof Uint8Array) || m.context.byteLength > limits.maxContextBytes)
  ) {
    return 'malformed';
  }
  if (m.snapshot !== undefined && !checkSnapshot(m.snapshot)) return 'malformed';
  return checkShape(m);
}

function checkShape(m: Message): DropReason | undefined {
  switch (m.type) {
    case 'app': {
      if (m.term === 0) return 'malformed';
      let prevTerm = m.logTerm;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        if (e.index !== m.index + 1 + i || e.term < prevTerm || e.term > m.term) return 'malformed';
        prevTerm = e.term;
      }
      return m.logTerm > m.term ? 'malformed' : undefined;
    }
    case 'snap':
      return m.snapshot === undefined || m.term === 0 || m.snapshot.meta.term > m.term
        ? 'malformed'
        : undefined;
    case 'prop':
      return m.entries.length === 0 ? 'malformed' : undefined;
    case 'readIndex':
    case 'readIndexResp':
      return m.context === undefined ? 'malformed' : undefined;
    case 'vote':
    case 'preVote':
    case 'voteResp':
    case 'preVoteResp':
    case 'heartbeat':
    case 'heartbeatResp':
    case 'appResp':
    case 'timeoutNow':
      return m.term === 0 ? 'malformed' : undefined;
    default:
      return undefined;
  }
}
