/**
 * The small file interface under the durable raft log: one flat directory of append-only files.
 *
 * Two implementations: {@link NodeLogFiles} (`node:fs/promises`, in `node-files.ts`) and the
 * simulator's `SimFiles` (`src/sim/files.ts`), whose unsynced writes are lost on a crash. The log
 * store is written against this interface only, so the same code runs in production and in
 * simulation; `test/contract/log-files-contract.ts` holds both to one contract.
 *
 * Durability contract (the one POSIX gives, stated as the log relies on it):
 * - bytes appended to a file survive a crash once a later `sync()` of that file has resolved;
 *   unsynced bytes may be lost, wholly or as a prefix (a torn write), never reordered;
 * - a `truncate` is durable once a later `sync()` of the file has resolved;
 * - creating, renaming and removing a file changes the directory, which is durable only once a
 *   later `syncDirectory()` has resolved: before that, a crash may undo the change.
 * Errors: a missing file rejects with `NOT_FOUND`, creating an existing one with `INVALID_ARGUMENT`,
 * any other failure with `IO_ERROR` (cause chained); a closed handle or directory with `CLOSED`.
 */
export interface LogFiles {
  /** Names of the files in the directory, sorted ascending. */
  list(): Promise<string[]>;
  /**
   * Opens a file for reading and appending.
   *
   * @param options.create - create a new, empty file; rejects with `INVALID_ARGUMENT` if it exists
   */
  open(name: string, options?: { create?: boolean }): Promise<LogFile>;
  /** Removes a file (durable after `syncDirectory`). */
  remove(name: string): Promise<void>;
  /** Renames a file, replacing `to` if it exists (durable after `syncDirectory`). */
  rename(from: string, to: string): Promise<void>;
  /** Makes every earlier create, rename and remove durable. */
  syncDirectory(): Promise<void>;
}

/** An open file. Appends go to the end; the handle tracks the size it has written. */
export interface LogFile {
  readonly name: string;
  /** The file's size in bytes, as of the last append or truncate through this handle. */
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Appends `data` at the end. Concurrent appends on one handle are not allowed. */
  append(data: Uint8Array): Promise<void>;
  /** Makes every earlier append and truncate durable (fdatasync). */
  sync(): Promise<void>;
  /** Cuts the file to `size` bytes (`size` at most the current size). */
  truncate(size: number): Promise<void>;
  /** Closes the handle; unsynced data is not flushed by this. */
  close(): Promise<void>;
}

/** File names the log uses must be plain: no path separators, no dot files. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
