import type { Message } from '../types.js';

/**
 * Merges runs of messages to one peer that say the same as fewer messages would (pure).
 *
 * Under load the leader's core appends each proposal as it arrives and sends one `app` per
 * proposal per follower, and the follower answers each with an `appResp`: tens of small messages
 * per Ready, each encoded, decoded, validated and stepped. Two kinds of adjacent messages merge:
 *
 * - `app` then `app` in the same term where the second continues the first (its `index`/`logTerm`
 *   are the first's last entry): one `app` with both entry lists and the second's commit index,
 *   exactly the message the leader would have sent had both proposals arrived before it sent.
 *   The follower's answer acknowledges the last index, which frees the leader's in-flight slots of
 *   both (they are released up to an index). Merged entries stay within `maxBytes`.
 * - `appResp` then `appResp`, both accepting, in the same term, the second at an index at or above
 *   the first: the second alone, since an acknowledgement covers everything below its index.
 *
 * Nothing else changes: order is kept, other types pass untouched, a rejection is never merged.
 *
 * @param messages - messages to one peer in the order they were produced
 * @param maxBytes - the largest entry payload a merged `app` may carry (the core's maxSizePerMsg)
 */
export function coalesceMessages(messages: readonly Message[], maxBytes: number): Message[] {
  const out: Message[] = [];
  let lastAppBytes = 0;
  for (const m of messages) {
    const prev = out.length > 0 ? out[out.length - 1]! : undefined;
    if (prev !== undefined && m.type === 'app' && continuesApp(prev, m)) {
      const bytes = entryBytes(m);
      if (lastAppBytes + bytes <= maxBytes) {
        out[out.length - 1] = {
          ...m,
          index: prev.index,
          logTerm: prev.logTerm,
          entries: [...prev.entries, ...m.entries],
        };
        lastAppBytes += bytes;
        continue;
      }
    }
    if (prev !== undefined && m.type === 'appResp' && supersedesAck(prev, m)) {
      out[out.length - 1] = m;
      continue;
    }
    out.push(m);
    if (m.type === 'app') lastAppBytes = entryBytes(m);
  }
  return out;
}

/** True when `m` is an append that picks up exactly where `prev` (an append) ends. */
function continuesApp(prev: Message, m: Message): boolean {
  if (prev.type !== 'app' || prev.term !== m.term || prev.from !== m.from || prev.to !== m.to) return false;
  if (prev.snapshot !== undefined || m.snapshot !== undefined) return false;
  if (prev.context !== undefined || m.context !== undefined) return false;
  if (prev.entries.length === 0 || m.entries.length === 0) return false;
  const last = prev.entries[prev.entries.length - 1]!;
  return m.index === last.index && m.logTerm === last.term && m.commit >= prev.commit;
}

/** True when the accepting ack `m` covers the accepting ack `prev` (same term, not lower). */
function supersedesAck(prev: Message, m: Message): boolean {
  return (
    prev.type === 'appResp' &&
    !prev.reject &&
    !m.reject &&
    prev.term === m.term &&
    prev.from === m.from &&
    prev.to === m.to &&
    prev.context === undefined &&
    m.context === undefined &&
    m.index >= prev.index &&
    m.commit >= prev.commit
  );
}

function entryBytes(m: Message): number {
  let n = 0;
  for (const e of m.entries) n += e.data.length;
  return n;
}
