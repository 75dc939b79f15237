import type { Logger } from '../../core/index.js';
import { RaftError } from '../errors.js';
import type { Entry, HardState, Snapshot } from '../types.js';
import type { LogFiles } from './files.js';
import type { LogLimits } from './limits.js';
import { decodeRecord, decodeSnapshotFile, readFrame } from './record.js';
import { LogReplay } from './replay.js';
import { parseName } from './segment-names.js';

/** A segment as recovery found it. */
export interface RecoveredSegment {
  readonly seq: number;
  readonly name: string;
  /** Bytes of valid records (the file's size after a torn tail is cut). */
  readonly size: number;
  /** The highest entry index any record of the segment holds (0 for none). */
  readonly maxIndex: number;
}

/** What {@link recoverLog} returns: the log's state and the layout the writer continues from. */
export interface Recovered {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  readonly entries: Entry[];
  readonly segments: RecoveredSegment[];
  /** Index of the last entry written, for naming the next segment. */
  readonly lastIndex: number;
}

function corrupt(message: string, cause?: unknown): RaftError {
  return new RaftError('CORRUPT', message, cause === undefined ? {} : { cause });
}

async function readWhole(files: LogFiles, name: string): Promise<Uint8Array> {
  const file = await files.open(name);
  try {
    return await file.read(0, file.size);
  } finally {
    await file.close();
  }
}

/**
 * Reads the log directory: the newest snapshot, then every segment in order, verifying every
 * record's checksum and replaying it (see {@link LogReplay}).
 *
 * A bad record at the tail of the last segment (cut short, zeros to the end, or a checksum
 * mismatch on a record that ends exactly at the end of the file) is a torn write: with `repair`,
 * the file is cut there, synced, and the cut logged. A bad record anywhere else, a missing segment
 * in the sequence, a bad snapshot file or a record that passes its checksum but does not decode
 * is refused with RaftError `CORRUPT` naming the file and the offset.
 * With `repair`, leftover temporary files and snapshots older than the newest are removed.
 *
 * @throws RaftError `CORRUPT`; CairnError from the files (`IO_ERROR`, ...)
 */
export async function recoverLog(
  files: LogFiles,
  limits: LogLimits,
  logger: Logger,
  repair: boolean,
): Promise<Recovered> {
  const segments: { seq: number; name: string }[] = [];
  const snapshots: { index: number; name: string }[] = [];
  for (const name of await files.list()) {
    const parsed = parseName(name);
    if (parsed.kind === 'segment') segments.push({ seq: parsed.seq, name });
    else if (parsed.kind === 'snapshot') snapshots.push({ index: parsed.index, name });
    else if (parsed.kind === 'temporary' && repair) await files.remove(name);
    else if (parsed.kind === 'other') logger.warn({ file: name }, 'raft log: ignoring an unknown file');
  }
  segments.sort((a, b) => a.seq - b.seq);
  snapshots.sort((a, b) => a.index - b.index);
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
      throw corrupt(`raft log: segment ${segments[i - 1]!.seq + 1} is missing before ${segments[i]!.name}`);
    }
  }
  const snapshot = await readNewestSnapshot(files, snapshots, limits, repair);
  const replay = new LogReplay();
  const recovered: RecoveredSegment[] = [];
  let lastIndex = 0;
  for (let i = 0; i < segments.length; i++) {
    const { seq, name } = segments[i]!;
    const bytes = await readWhole(files, name);
    let offset = 0;
    let maxIndex = 0;
    while (offset < bytes.length) {
      const f = readFrame(bytes, offset, limits.maxRecordBytes);
      if (!f.ok) {
        const torn =
          i === segments.length - 1 &&
          (f.reason === 'short' || f.reason === 'zero' || f.end === bytes.length);
        if (!torn) {
          throw corrupt(
            `raft log: corrupt record in ${name} at offset ${offset} (${f.reason}); refusing to start`,
          );
        }
        logger.warn(
          { file: name, offset, dropped: bytes.length - offset, reason: f.reason },
          'raft log: torn write at the tail of the last segment; truncating',
        );
        if (repair) await cutTail(files, name, offset);
        break;
      }
      let record: ReturnType<typeof decodeRecord>;
      try {
        record = decodeRecord(f.payload, limits.maxRecordBytes);
      } catch (err) {
        throw corrupt(`raft log: undecodable record in ${name} at offset ${offset}`, err);
      }
      replay.apply(record);
      if (record.kind === 'save' && record.entries.length > 0) {
        lastIndex = record.entries[record.entries.length - 1]!.index;
        maxIndex = Math.max(maxIndex, lastIndex);
      }
      offset = f.end;
    }
    recovered.push({ seq, name, size: offset, maxIndex });
  }
  const { entries, gap } = replay.result(snapshot);
  if (gap) {
    throw corrupt(
      `raft log: entries resume at ${entries[0]!.index}, after the snapshot at ${snapshot!.meta.index}: entries are missing`,
    );
  }
  return { hardState: replay.hardState, snapshot, entries, segments: recovered, lastIndex };
}

async function readNewestSnapshot(
  files: LogFiles,
  snapshots: readonly { index: number; name: string }[],
  limits: LogLimits,
  repair: boolean,
): Promise<Snapshot | undefined> {
  const newest = snapshots[snapshots.length - 1];
  if (newest === undefined) return undefined;
  const bytes = await readWhole(files, newest.name);
  let snapshot: Snapshot;
  try {
    snapshot = decodeSnapshotFile(bytes, limits.maxSnapshotBytes);
  } catch (err) {
    throw corrupt(`raft log: snapshot file ${newest.name} is corrupt`, err);
  }
  if (snapshot.meta.index !== newest.index) {
    throw corrupt(`raft log: snapshot file ${newest.name} holds index ${snapshot.meta.index}`);
  }
  if (repair) for (const old of snapshots.slice(0, -1)) await files.remove(old.name);
  return snapshot;
}

async function cutTail(files: LogFiles, name: string, offset: number): Promise<void> {
  const file = await files.open(name);
  try {
    await file.truncate(offset);
    await file.sync();
  } finally {
    await file.close();
  }
}
