import { CairnError, type Clock, type Rng } from '../core/index.js';
import { FILE_NAME, type LogFile, type LogFiles } from '../raft/log/files.js';

/**
 * Simulated files for the durable raft log: a flat directory whose unsynced writes a crash loses.
 *
 * Model (what a journaling filesystem on a disk with a volatile cache guarantees, and no more):
 * every file (an inode) has visible bytes and durable bytes. `append`/`truncate` change the
 * visible bytes at once; `sync()` makes the bytes visible when it was called durable, once its
 * latency has passed. The directory has a visible and a durable namespace (name -> inode);
 * `create`, `rename` and `remove` change the visible one, `syncDirectory()` copies it to the
 * durable one. {@link SimFiles.crash} keeps the durable namespace and, per file, the durable
 * bytes, plus (drawn from the node's Rng) a prefix of the bytes appended since the last sync: a
 * torn write. Pending operations of a crashed node never complete, since their latencies run on
 * its dead clock, and every handle opened before the crash rejects with `CLOSED`.
 *
 * @example
 * ```ts
 * const files = new SimFiles({ rng: Rng.fromSeed(1) });
 * const f = await files.open('a.wal', { create: true });
 * await f.append(bytes); await f.sync(); await files.syncDirectory();
 * files.crash(); files.reopen();   // a.wal holds `bytes`
 * ```
 */
export class SimFiles implements LogFiles {
  private visible = new Map<string, Inode>();
  private durable = new Map<string, Inode>();
  private state: 'open' | 'closed' | 'crashed' = 'open';
  private generation = 0;
  private clock: Clock | undefined;
  private readonly rng: Rng | undefined;
  private latency: Required<SimFilesLatency>;
  /** Counters: appends, syncs (file and directory), crashes, bytes a crash dropped or tore. */
  readonly stats = { appends: 0, syncs: 0, directorySyncs: 0, crashes: 0, lostBytes: 0, tornWrites: 0 };

  /** @param options - see {@link SimFilesOptions} */
  constructor(options: SimFilesOptions = {}) {
    this.clock = options.clock;
    this.rng = options.rng;
    this.latency = checkLatency(options);
  }

  /** Changes latencies from now on. */
  setLatency(latency: SimFilesLatency): void {
    this.latency = checkLatency({ ...this.latency, ...latency });
  }

  async list(): Promise<string[]> {
    this.checkOpen();
    await this.delay(this.latency.readLatencyMs);
    this.checkOpen();
    return [...this.visible.keys()].sort();
  }

  async open(name: string, options: { create?: boolean } = {}): Promise<LogFile> {
    this.checkOpen();
    checkName(name);
    let inode = this.visible.get(name);
    if (options.create === true) {
      if (inode !== undefined) throw new CairnError('INVALID_ARGUMENT', `simulated file ${name} exists`);
      inode = new Inode();
      this.visible.set(name, inode);
    } else if (inode === undefined) {
      throw new CairnError('NOT_FOUND', `simulated file ${name}: no such file`);
    }
    const generation = this.generation;
    await this.delay(this.latency.readLatencyMs);
    this.checkOpen(generation);
    return new SimFile(this, name, inode, generation);
  }

  async remove(name: string): Promise<void> {
    this.checkOpen();
    checkName(name);
    if (!this.visible.delete(name)) throw new CairnError('NOT_FOUND', `simulated file ${name}: no such file`);
    await this.delay(this.latency.writeLatencyMs);
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkOpen();
    checkName(from);
    checkName(to);
    const inode = this.visible.get(from);
    if (inode === undefined) throw new CairnError('NOT_FOUND', `simulated file ${from}: no such file`);
    this.visible.delete(from);
    this.visible.set(to, inode);
    await this.delay(this.latency.writeLatencyMs);
  }

  async syncDirectory(): Promise<void> {
    this.checkOpen();
    const names = new Map(this.visible);
    const generation = this.generation;
    await this.delay(this.latency.syncLatencyMs);
    if (generation !== this.generation) return;
    this.stats.directorySyncs++;
    this.durable = names;
  }

  /**
   * Simulates a power loss: the durable namespace and durable bytes remain, plus a torn prefix of
   * each file's unsynced appends (length drawn from the Rng; none without one). Every call and
   * every open handle rejects with `CLOSED` until {@link SimFiles.reopen}.
   */
  crash(): void {
    this.stats.crashes++;
    this.generation++;
    this.state = 'crashed';
    for (const inode of new Set(this.visible.values())) {
      if (![...this.durable.values()].includes(inode)) this.stats.lostBytes += inode.length;
    }
    for (const inode of new Set(this.durable.values())) {
      const unsynced = inode.unsyncedTail();
      let keep = 0;
      if (unsynced > 0 && this.rng !== undefined && this.rng.chance(0.5)) keep = this.rng.int(unsynced + 1);
      if (keep > 0 && keep < unsynced) this.stats.tornWrites++;
      this.stats.lostBytes += inode.revert(keep);
    }
    this.visible = new Map(this.durable);
  }

  /** Opens again after a crash or close, optionally on a new clock (the node's new incarnation). */
  reopen(clock?: Clock): void {
    if (clock !== undefined) this.clock = clock;
    this.state = 'open';
  }

  /** Clean stop: every write so far becomes durable (a clean shutdown loses nothing). */
  shutdown(): void {
    if (this.state === 'open') {
      for (const inode of this.visible.values()) inode.markDurable(inode.length);
      this.durable = new Map(this.visible);
      this.state = 'closed';
    }
    this.generation++;
  }

  /** Test hook: the visible bytes of `name` (a copy), or undefined. */
  peek(name: string): Uint8Array | undefined {
    const inode = this.visible.get(name);
    return inode?.bytes().slice();
  }

  /** Test hook: overwrites bytes of `name` in place, visible and durable (bit rot, a bad sector). */
  corrupt(name: string, offset: number, bytes: Uint8Array): void {
    const inode = this.visible.get(name);
    if (inode === undefined) throw new CairnError('NOT_FOUND', `simulated file ${name}: no such file`);
    inode.overwrite(offset, bytes);
  }

  /** @internal */
  checkOpen(generation?: number): void {
    if (this.state !== 'open' || (generation !== undefined && generation !== this.generation)) {
      throw new CairnError(
        'CLOSED',
        `the simulated files are ${this.state === 'open' ? 'reopened' : this.state}`,
      );
    }
  }

  /** @internal */
  isCurrent(generation: number): boolean {
    return generation === this.generation && this.state === 'open';
  }

  /** @internal */
  delay(ms: number): Promise<void> | undefined {
    const clock = this.clock;
    if (ms <= 0 || clock === undefined) return undefined;
    return new Promise((resolve) => clock.setTimer(ms, resolve));
  }

  /** @internal */
  get latencies(): Required<SimFilesLatency> {
    return this.latency;
  }

  /** @internal */
  countAppend(): void {
    this.stats.appends++;
  }

  /** @internal */
  countSync(): void {
    this.stats.syncs++;
  }
}

/** Latencies of {@link SimFiles}, in virtual ms; each defaults to 0. */
export interface SimFilesLatency {
  /** Of `list`, `open` and `read`. */
  readLatencyMs?: number;
  /** Of `append`, `truncate`, `remove` and `rename`. */
  writeLatencyMs?: number;
  /** Of a file `sync` or a `syncDirectory` (the flush). */
  syncLatencyMs?: number;
}

/** Options of {@link SimFiles}. */
export interface SimFilesOptions extends SimFilesLatency {
  /** Clock for latencies; without one, operations complete without delay. */
  clock?: Clock;
  /** Random stream for torn writes on crash; without one, a crash keeps no unsynced byte. */
  rng?: Rng;
}

function checkLatency(options: SimFilesLatency): Required<SimFilesLatency> {
  const out = { readLatencyMs: 0, writeLatencyMs: 0, syncLatencyMs: 0 };
  for (const key of Object.keys(out) as (keyof SimFilesLatency)[]) {
    const ms = options[key] ?? 0;
    if (!Number.isFinite(ms) || ms < 0)
      throw new CairnError('INVALID_CONFIG', `files ${key} must be >= 0, got ${ms}`);
    out[key] = ms;
  }
  return out;
}

function checkName(name: string): void {
  if (!FILE_NAME.test(name))
    throw new CairnError('INVALID_ARGUMENT', `bad file name ${JSON.stringify(name)}`);
}

/**
 * A simulated file's bytes. `data[0, length)` is visible. The durable content is
 * `data[0, durableLength)` while `durableCopy` is undefined; a truncate below the durable length
 * first detaches the durable bytes into `durableCopy`, so appends never change durable bytes.
 */
class Inode {
  private data = new Uint8Array(256);
  length = 0;
  private durableLength = 0;
  private durableCopy: Uint8Array | undefined;
  /** Truncates so far: a sync that straddles one makes the current bytes durable. */
  truncations = 0;

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  append(bytes: Uint8Array): void {
    const need = this.length + bytes.length;
    if (need > this.data.length) {
      const grown = new Uint8Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(bytes, this.length);
    this.length = need;
  }

  truncate(size: number): void {
    this.truncations++;
    if (this.durableCopy === undefined && size < this.durableLength) {
      this.durableCopy = this.data.slice(0, this.durableLength);
    }
    this.length = size;
  }

  /** Records that the first `length` visible bytes (as of the sync call) are durable. */
  markDurable(length: number): void {
    this.durableCopy = undefined;
    this.durableLength = Math.min(length, this.length);
  }

  /** Bytes appended past the durable content, which a crash may tear. */
  unsyncedTail(): number {
    return this.durableCopy === undefined ? this.length - this.durableLength : 0;
  }

  /** Reverts to the durable content plus `keep` unsynced bytes; returns the bytes dropped. */
  revert(keep: number): number {
    const before = this.length;
    if (this.durableCopy !== undefined) {
      const copy = this.durableCopy;
      this.data = new Uint8Array(Math.max(256, copy.length));
      this.data.set(copy);
      this.length = copy.length;
      this.durableLength = copy.length;
      this.durableCopy = undefined;
      return Math.max(0, before - copy.length);
    }
    this.length = this.durableLength + keep;
    this.durableLength = this.length;
    return before - this.length;
  }

  overwrite(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.length) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `overwrite at ${offset} is outside the file of ${this.length} bytes`,
      );
    }
    this.data.set(bytes, offset);
    const copy = this.durableCopy;
    if (copy !== undefined && offset < copy.length) copy.set(bytes.subarray(0, copy.length - offset), offset);
  }
}

class SimFile implements LogFile {
  private closed = false;

  constructor(
    private readonly files: SimFiles,
    readonly name: string,
    private readonly inode: Inode,
    private readonly generation: number,
  ) {}

  get size(): number {
    return this.inode.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check();
    const out = this.inode.bytes().slice(offset, offset + Math.max(0, length));
    await this.files.delay(this.files.latencies.readLatencyMs);
    this.check();
    return out;
  }

  async append(data: Uint8Array): Promise<void> {
    this.check();
    this.files.countAppend();
    this.inode.append(data);
    await this.files.delay(this.files.latencies.writeLatencyMs);
    this.check();
  }

  async sync(): Promise<void> {
    this.check();
    const length = this.inode.length;
    const truncations = this.inode.truncations;
    await this.files.delay(this.files.latencies.syncLatencyMs);
    this.check();
    this.files.countSync();
    // A truncate during the flush: make the current content durable (more than asked, allowed).
    this.inode.markDurable(truncations === this.inode.truncations ? length : this.inode.length);
  }

  async truncate(size: number): Promise<void> {
    this.check();
    if (!Number.isSafeInteger(size) || size < 0 || size > this.inode.length) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `cannot truncate ${this.name} of ${this.inode.length} bytes to ${size}`,
      );
    }
    this.inode.truncate(size);
    await this.files.delay(this.files.latencies.writeLatencyMs);
    this.check();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new CairnError('CLOSED', `simulated file ${this.name} is closed`);
    this.files.checkOpen(this.generation);
  }
}
