/**
 * File names of the segment log. Fixed-width hex keeps lexical order equal to numeric order, so a
 * plain directory listing is already sorted.
 */

const SEGMENT = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const SNAPSHOT = /^snap-([0-9a-f]{16})\.snap$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** `<seq>-<firstIndex>.wal`: segment number `seq`, whose first entry was expected at `firstIndex`. */
export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

/** `snap-<index>.snap`. */
export function snapshotName(index: number): string {
  return `snap-${hex16(index)}.snap`;
}

/** The temporary name a snapshot file is written under before its rename. */
export function snapshotTempName(index: number): string {
  return `${snapshotName(index)}.tmp`;
}

/** What a name in the log directory is. */
export type ParsedName =
  | { readonly kind: 'segment'; readonly seq: number; readonly firstIndex: number }
  | { readonly kind: 'snapshot'; readonly index: number }
  | { readonly kind: 'temporary' }
  | { readonly kind: 'other' };

/** Classifies a file name of the log directory. */
export function parseName(name: string): ParsedName {
  const seg = SEGMENT.exec(name);
  if (seg !== null) {
    const seq = Number.parseInt(seg[1]!, 16);
    const firstIndex = Number.parseInt(seg[2]!, 16);
    if (Number.isSafeInteger(seq) && Number.isSafeInteger(firstIndex))
      return { kind: 'segment', seq, firstIndex };
  }
  const snap = SNAPSHOT.exec(name);
  if (snap !== null) {
    const index = Number.parseInt(snap[1]!, 16);
    if (Number.isSafeInteger(index)) return { kind: 'snapshot', index };
  }
  if (name.endsWith('.tmp')) return { kind: 'temporary' };
  return { kind: 'other' };
}
