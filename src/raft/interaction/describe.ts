import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  RaftRole,
  ReadState,
  Ready,
  Snapshot,
} from '../types.js';

/**
 * Human-readable one-line forms of raft values, for transcripts: etcd-io/raft's `Describe*`
 * format (`1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[1/4 EntryNormal "x"]`) so a reader who
 * knows etcd's transcripts reads these without a key.
 *
 * Every function is total: bytes that are not printable UTF-8 are shown as hex, and a conf entry
 * whose data cannot be decoded is shown as such rather than throwing.
 */

/** Decodes a conf entry's data; returns undefined when the bytes are not a ConfChange. */
export type ConfChangeDecoder = (data: Uint8Array) => ConfChange | undefined;

const MESSAGE_NAMES: Record<MessageType, string> = {
  hup: 'MsgHup',
  beat: 'MsgBeat',
  prop: 'MsgProp',
  app: 'MsgApp',
  appResp: 'MsgAppResp',
  vote: 'MsgVote',
  voteResp: 'MsgVoteResp',
  preVote: 'MsgPreVote',
  preVoteResp: 'MsgPreVoteResp',
  snap: 'MsgSnap',
  heartbeat: 'MsgHeartbeat',
  heartbeatResp: 'MsgHeartbeatResp',
  unreachable: 'MsgUnreachable',
  snapStatus: 'MsgSnapStatus',
  checkQuorum: 'MsgCheckQuorum',
  transferLeader: 'MsgTransferLeader',
  timeoutNow: 'MsgTimeoutNow',
  readIndex: 'MsgReadIndex',
  readIndexResp: 'MsgReadIndexResp',
};

/** etcd's name for a message type (`app` -> `MsgApp`). */
export function messageTypeName(type: MessageType): string {
  return MESSAGE_NAMES[type];
}

const ROLE_NAMES: Record<RaftRole, string> = {
  follower: 'StateFollower',
  preCandidate: 'StatePreCandidate',
  candidate: 'StateCandidate',
  leader: 'StateLeader',
};

/** etcd's name for a role (`leader` -> `StateLeader`). */
export function roleName(role: RaftRole): string {
  return ROLE_NAMES[role];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes as a quoted string when they are printable UTF-8, else `0x` and hex. */
export function describeBytes(data: Uint8Array): string {
  try {
    const text = decoder.decode(data);
    // Control characters other than newline and tab would garble the transcript.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting them is the point
    if (!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return JSON.stringify(text);
  } catch {
    // not UTF-8: fall through to hex
  }
  return `0x${Buffer.from(data).toString('hex')}`;
}

/** A conf change in the command syntax of `propose-conf-change`: `add=4`, `addLearner=4`, `remove=2`. */
export function describeConfChange(cc: ConfChange): string {
  const kind = cc.type === 'addNode' ? 'add' : cc.type === 'addLearner' ? 'addLearner' : 'remove';
  const ctx = cc.context !== undefined && cc.context.length > 0 ? ` ctx=${describeBytes(cc.context)}` : '';
  return `${kind}=${cc.nodeId}${ctx}`;
}

/** `term/index EntryNormal "data"` or `term/index EntryConfChange add=4`. */
export function describeEntry(e: Entry, decodeConfChange?: ConfChangeDecoder): string {
  if (e.type === 'normal') return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`;
  const cc = decodeConfChange?.(e.data);
  const body = cc === undefined ? `<undecodable ${describeBytes(e.data)}>` : describeConfChange(cc);
  return `${e.term}/${e.index} EntryConfChange ${body}`;
}

/** One entry per line. */
export function describeEntries(entries: readonly Entry[], decodeConfChange?: ConfChangeDecoder): string[] {
  return entries.map((e) => describeEntry(e, decodeConfChange));
}

/** `Voters:[1 2 3] Learners:[4]`. */
export function describeConfState(cs: ConfState): string {
  return `Voters:[${cs.voters.join(' ')}] Learners:[${cs.learners.join(' ')}]`;
}

/** `Index:11 Term:1 ConfState:Voters:[1 2 3] Learners:[] Data:"..."`. */
export function describeSnapshot(s: Snapshot): string {
  const data = s.data.length > 0 ? ` Data:${describeBytes(s.data)}` : '';
  return `Index:${s.meta.index} Term:${s.meta.term} ConfState:${describeConfState(s.meta.confState)}${data}`;
}

/** `HardState Term:2 Vote:1 Commit:3` (Vote omitted when none, as etcd does). */
export function describeHardState(hs: HardState): string {
  const vote = hs.vote !== 0 ? ` Vote:${hs.vote}` : '';
  return `HardState Term:${hs.term}${vote} Commit:${hs.commit}`;
}

/**
 * A message on one line, or several when it carries more than one entry (the entries are then
 * listed one per line, indented, inside `Entries:[` ... `]`).
 */
export function describeMessage(m: Message, decodeConfChange?: ConfChangeDecoder): string {
  let out = `${m.from}->${m.to} ${messageTypeName(m.type)} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) out += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) out += ` Commit:${m.commit}`;
  if (m.context !== undefined && m.context.length > 0) out += ` Context:${describeBytes(m.context)}`;
  if (m.entries.length === 1) out += ` Entries:[${describeEntry(m.entries[0]!, decodeConfChange)}]`;
  if (m.entries.length > 1) {
    const lines = describeEntries(m.entries, decodeConfChange).map((l) => `  ${l}`);
    out += ` Entries:[\n${lines.join('\n')}\n]`;
  }
  if (m.snapshot !== undefined) out += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return out;
}

/** `Index:5 Context:"r1"`. */
export function describeReadState(rs: ReadState): string {
  return `Index:${rs.index} Context:${describeBytes(rs.requestCtx)}`;
}

/** A Ready as etcd's interaction tests print it: one section per non-empty field. */
export function describeReady(rd: Ready, decodeConfChange?: ConfChangeDecoder): string {
  const lines: string[] = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState !== undefined) {
    lines.push(`Lead:${rd.softState.leader} State:${roleName(rd.softState.role)}`);
  }
  if (rd.hardState !== undefined) lines.push(describeHardState(rd.hardState));
  if (rd.entries.length > 0) lines.push('Entries:', ...describeEntries(rd.entries, decodeConfChange));
  if (rd.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) {
    lines.push('CommittedEntries:', ...describeEntries(rd.committedEntries, decodeConfChange));
  }
  if (rd.messages.length > 0) {
    lines.push('Messages:', ...rd.messages.map((m) => describeMessage(m, decodeConfChange)));
  }
  if (rd.readStates.length > 0) lines.push('ReadStates:', ...rd.readStates.map(describeReadState));
  return lines.join('\n');
}

/** Indents every line of `text` by `prefix`. */
export function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : prefix + l))
    .join('\n');
}
