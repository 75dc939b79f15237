import type { Message, MessageType, NodeId } from '../types.js';

const NO_ENTRIES: readonly never[] = Object.freeze([]);

/** The fields of a {@link Message} a sender sets; the rest default to 0 / empty. */
export type MessageFields = Partial<Message> & { type: MessageType; to: NodeId };

/** A complete message from the fields set, with 0 / empty defaults for the rest. */
export function makeMessage(f: MessageFields): Message {
  const m: {
    -readonly [K in keyof Message]: Message[K];
  } = {
    type: f.type,
    from: f.from ?? 0,
    to: f.to,
    term: f.term ?? 0,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? NO_ENTRIES,
    commit: f.commit ?? 0,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
  };
  if (f.snapshot !== undefined) m.snapshot = f.snapshot;
  if (f.context !== undefined) m.context = f.context;
  return m;
}

/** The response type of a vote request type. */
export function voteResponseType(t: 'vote' | 'preVote'): 'voteResp' | 'preVoteResp' {
  return t === 'vote' ? 'voteResp' : 'preVoteResp';
}

/** The context that marks a vote as part of a leadership transfer (it bypasses the leader lease). */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');
