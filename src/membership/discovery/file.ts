import { type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { CairnError, type Clock, describeError, type Logger } from '../../core/index.js';
import { normalizeAddress } from './address.js';
import { type FetchResult, ProviderBase } from './base.js';
import type { DiscoveryLimits } from './limits.js';
import { abortable, closedError } from './types.js';

/** Options of {@link FileDiscovery}. */
export interface FileDiscoveryOptions {
  /** Path of the seed file. */
  path: string;
  /** The clock for the polling timer. */
  clock: Clock;
  /**
   * Interval between checks of the file's size, time and inode, in ms: the fallback for
   * filesystems where `fs.watch` misses changes (network mounts, some containers). Lower notices
   * changes sooner at the cost of a `stat` per interval. Default 5000.
   */
  pollIntervalMs?: number;
  /** Also watch the file's directory with `fs.watch` for prompt reloads; default true. */
  watch?: boolean;
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

/** Outcome of parsing a seed file. */
export type ParsedSeedFile = FetchResult;

/**
 * Parses the text of a seed file. Two formats:
 * - a JSON array of address strings, when the first non-blank character is `[`;
 * - otherwise one address per line; `#` starts a comment to the end of the line; blank lines are
 *   skipped.
 *
 * Duplicates are dropped (first one kept). The file is invalid as a whole when any entry is not an
 * address, or when it has more than `maxAddresses` distinct entries: a half-edited file must not
 * silently shrink the seed list. An empty file is valid (no seeds).
 *
 * @example
 * ```ts
 * parseSeedFile('10.0.0.1:7946  # rack 1\n[fd00::2]:7946\n', 1024); // ok, two addresses
 * parseSeedFile('["10.0.0.1:7946", "10.0.0.2:7946"]', 1024);      // ok, two addresses
 * ```
 */
export function parseSeedFile(text: string, maxAddresses: number): ParsedSeedFile {
  let entries: { value: unknown; where: string }[];
  if (text.trimStart().startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `invalid JSON: ${describeError(err)}` };
    }
    if (!Array.isArray(json)) return { ok: false, reason: 'JSON seed file must be an array of strings' };
    entries = json.map((value, i) => ({ value, where: `element ${i}` }));
  } else {
    entries = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const hash = line.indexOf('#');
      const value = (hash < 0 ? line : line.slice(0, hash)).trim();
      if (value.length > 0) entries.push({ value, where: `line ${i + 1}` });
    });
  }
  const unique = new Set<string>();
  for (const { value, where } of entries) {
    const address = normalizeAddress(value);
    if (address === undefined) {
      return { ok: false, reason: `${where}: ${JSON.stringify(value)?.slice(0, 80)} is not host:port` };
    }
    unique.add(address);
    if (unique.size > maxAddresses) {
      return {
        ok: false,
        overLimit: true,
        reason: `more than maxAddressesPerAnswer=${maxAddresses} addresses`,
      };
    }
  }
  return { ok: true, addresses: [...unique] };
}

/** Reads at most `max + 1` bytes of `path`, so an oversized file is detected without reading it all. */
async function readBounded(path: string, max: number): Promise<{ text: string; tooLarge: boolean }> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(max + 1, Math.max(1, (await handle.stat()).size + 1)));
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > max) return { text: '', tooLarge: true };
    return { text: buf.subarray(0, length).toString('utf8'), tooLarge: false };
  } finally {
    await handle.close();
  }
}

/**
 * Seeds from a file that operators (or a config-management tool) edit: re-read when it changes.
 *
 * Contract (beyond {@link DiscoveryProvider}'s):
 * - The file's format is described at {@link parseSeedFile}; it is read up to `maxFileBytes`.
 * - Changes are noticed through `fs.watch` on the file's directory (which also sees a file
 *   replaced by rename, as editors and config tools do) and, as a fallback, by comparing the
 *   file's inode, size and modification time every `pollIntervalMs` on the clock.
 * - When the file is missing, unreadable, too large or invalid, the last good list is kept; the
 *   error is logged and counted (`failures`, or `overLimit`), never thrown to the caller.
 *
 * @example
 * ```ts
 * const file = new FileDiscovery({ path: '/etc/cairn/seeds', clock: systemClock });
 * file.onChange((seeds) => log.info({ seeds }, 'seed file changed'));
 * ```
 */
export class FileDiscovery extends ProviderBase {
  readonly name: string;
  private readonly options: FileDiscoveryOptions;
  private readonly pollIntervalMs: number;
  private signature: string | undefined;
  private reloading: Promise<boolean> | undefined;
  private again = false;
  private watcher: FSWatcher | undefined;

  /** @throws CairnError `INVALID_CONFIG` naming the bad option */
  constructor(options: FileDiscoveryOptions) {
    super(options);
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw new CairnError('INVALID_CONFIG', 'file discovery: path must be a non-empty string', {
        details: { field: 'path' },
      });
    }
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    if (!Number.isFinite(this.pollIntervalMs) || this.pollIntervalMs <= 0) {
      throw new CairnError('INVALID_CONFIG', 'file discovery: pollIntervalMs must be > 0', {
        details: { field: 'pollIntervalMs' },
      });
    }
    this.options = options;
    this.name = `file(${options.path})`;
  }

  /** The directory watch and the polling timer. */
  protected begin(): void {
    if (this.options.watch !== false) this.startWatch();
    this.every(this.pollIntervalMs, () => this.poll());
  }

  /** The last good list, reading the file first if it was never read. */
  async discover(signal?: AbortSignal): Promise<string[]> {
    if (this.closed) throw closedError(this.name);
    this.start();
    if (this.current === undefined) await abortable(this.reload(), signal, `${this.name} read`);
    if (this.closed) throw closedError(this.name);
    return [...(this.current ?? [])];
  }

  /**
   * Reads the file now. Calls made while a read is running are folded into one more read after it.
   * Never rejects.
   *
   * @returns true when the file was valid (its list is now current)
   */
  reload(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.reloading !== undefined) {
      this.again = true;
      return this.reloading;
    }
    const run = async (): Promise<boolean> => {
      let ok: boolean;
      do {
        this.again = false;
        ok = await this.readOnce();
      } while (this.again && !this.closed);
      return ok;
    };
    this.reloading = run().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Stops the watch (the base class stops the polling timer and drops listeners). */
  protected override release(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private startWatch(): void {
    const name = basename(this.options.path);
    try {
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, file) => {
        if (file === null || file.toString() === name) void this.reload();
      });
      this.watcher.on('error', (err) => {
        this.logger.warn({ provider: this.name, err: describeError(err) }, 'fs.watch failed; polling only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.logger.warn(
        { provider: this.name, err: describeError(err) },
        'fs.watch unavailable; polling only',
      );
    }
  }

  /** Re-reads when the file's identity, size or time changed since the last read. */
  private async poll(): Promise<void> {
    if ((await this.currentSignature()) !== this.signature) await this.reload();
  }

  private async currentSignature(): Promise<string> {
    try {
      const s = await stat(this.options.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      return `missing:${(err as { code?: unknown }).code ?? 'error'}`;
    }
  }

  private async readOnce(): Promise<boolean> {
    this.signature = await this.currentSignature();
    let parsed: ParsedSeedFile;
    try {
      const { text, tooLarge } = await readBounded(this.options.path, this.limits.maxFileBytes);
      parsed = tooLarge
        ? { ok: false, overLimit: true, reason: `file is over maxFileBytes=${this.limits.maxFileBytes}` }
        : parseSeedFile(text, this.limits.maxAddressesPerAnswer);
    } catch (err) {
      parsed = { ok: false, reason: describeError(err) };
    }
    if (this.closed) return false;
    return this.accept(parsed, 'seed file rejected; keeping the last good list');
  }
}
