import type { ResponseHeader, Watch, WatchEvent, WatchRequest, WatchResponse } from '../api.js';
import { ETCD_ERRORS, StoreError } from '../errors.js';
import { inEtcdRange, keyString, type RangeEnd, toRangeEnd } from './layout.js';

/** One event of a revision, as the store hands it to the hub. */
export interface RevEvent {
  readonly rev: number;
  readonly event: WatchEvent;
}

/** What the hub reads from the store. */
export interface WatchSource {
  /** The published revision: every event at or below it can be read. */
  revision(): number;
  compactRevision(): number;
  header(revision: number): ResponseHeader;
  /**
   * Events of revisions `from`..`to` in revision order, whole revisions only, bounded by the
   * store's catch-up limits; `lastRev` is the last revision covered (at least `from` when any
   * revision was read). prevKv is filled only when `withPrevKv`.
   */
  readEvents(from: number, to: number, withPrevKv: boolean): Promise<{ events: RevEvent[]; lastRev: number }>;
}

/**
 * A watch as the hub returns it: {@link Watch} plus `resume()`, the other half of flow control.
 * `onResponse` returning `false` means "this response was taken, send no more for now": the hub
 * stops pushing to the watcher and resumes from its next revision when `resume()` is called.
 */
export interface HubWatch extends Watch {
  resume(): void;
}

/** Receives a watcher's responses; returning exactly `false` pauses the watcher until `resume()`. */
export type WatchConsumer = (res: WatchResponse) => unknown;

type WatcherState = 'synced' | 'unsynced' | 'blocked' | 'closed';

interface Watcher {
  readonly id: number;
  readonly key: Uint8Array;
  readonly end: RangeEnd;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  readonly onResponse: WatchConsumer;
  /** First revision not yet delivered (for a synced watcher: at least this). */
  nextRev: number;
  state: WatcherState;
  /** No event delivered since the last progress tick. */
  idle: boolean;
}

/** The cancel reason etcd gives for a watch whose start revision was compacted. */
export const COMPACTED_REASON = ETCD_ERRORS.compacted[1];

/**
 * The watch hub, as etcd's watchableStore: synced watchers get each revision's events the moment
 * the store publishes it (one response per revision); unsynced ones (start in the past, paused
 * by their consumer, or moved by a restore) are caught up from Storage in bounded batches by one
 * pump, and join the synced set in the same synchronous step that finds them current, so no
 * event is lost or delivered twice.
 *
 * Memory: the hub buffers nothing per watcher (delivery is a synchronous call); catch-up holds
 * one batch (the store's `maxCatchupRevisions` / `maxCatchupBytes`) at a time.
 */
export class WatchHub {
  private readonly watchers = new Map<number, Watcher>();
  private readonly singles = new Map<string, Set<Watcher>>();
  private readonly ranges = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private nextId = 1;
  private pumping = false;
  private idleWaiters: Array<() => void> = [];
  /** The last revision notified; a synced watcher's next revision is at least this + 1. */
  private lastRev: number;

  constructor(
    private readonly source: WatchSource,
    private readonly maxWatchers: number,
  ) {
    this.lastRev = source.revision();
  }

  /**
   * A revision published while no watcher is open: what {@link notify} does then, without the
   * events (the store skips building them).
   */
  notifyUnwatched(rev: number): void {
    this.lastRev = rev;
  }

  /** Live watchers. */
  get size(): number {
    return this.watchers.size;
  }

  /** Resolves once no catch-up is running or pending (for tests and orderly shutdown). */
  settled(): Promise<void> {
    if (!this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** True when some watcher asked for previous values (the store then reads them on apply). */
  get wantsPrevKv(): boolean {
    for (const w of this.watchers.values()) if (w.prevKv) return true;
    return false;
  }

  /**
   * Starts a watch. The `created` response is delivered before this returns; a start revision
   * below the compact revision then gets etcd's compacted response (canceled) from the pump.
   *
   * @throws StoreError `tooManyRequests` over `maxWatchers`
   */
  watch(req: WatchRequest, onResponse: WatchConsumer): HubWatch {
    if (this.watchers.size >= this.maxWatchers) throw new StoreError('tooManyRequests', 'too many watchers');
    const cur = this.source.revision();
    const start = req.startRevision ?? 0;
    const w: Watcher = {
      id: this.nextId++,
      key: req.key,
      end: toRangeEnd(req.rangeEnd),
      prevKv: req.prevKv === true,
      noPut: req.filters?.includes('noPut') === true,
      noDelete: req.filters?.includes('noDelete') === true,
      progressNotify: req.progressNotify === true,
      onResponse,
      nextRev: start > 0 ? start : cur + 1,
      state: 'unsynced',
      idle: true,
    };
    this.watchers.set(w.id, w);
    this.deliver(w, { header: this.source.header(cur), watchId: w.id, events: [], created: true });
    if (w.state === 'unsynced') {
      if (w.nextRev > cur) this.toSynced(w);
      else this.toUnsynced(w);
    }
    return {
      watchId: w.id,
      requestProgress: () => this.progress(w),
      resume: () => {
        if (w.state === 'blocked') this.toUnsynced(w);
      },
      cancel: async () => this.close(w),
    };
  }

  /**
   * Delivers one published revision's events to the synced watchers. Called by the store in the
   * same synchronous step that publishes `rev`.
   */
  notify(rev: number, events: readonly WatchEvent[]): void {
    this.lastRev = rev;
    if (this.watchers.size === 0) return;
    const matched = new Map<Watcher, WatchEvent[]>();
    const add = (w: Watcher, ev: WatchEvent) => {
      if (w.state !== 'synced' || w.nextRev > rev) return;
      const list = matched.get(w);
      if (list === undefined) matched.set(w, [ev]);
      else list.push(ev);
    };
    for (const ev of events) {
      const single = this.singles.get(keyString(ev.kv.key));
      if (single !== undefined) for (const w of single) add(w, ev);
      for (const w of this.ranges) if (inEtcdRange(ev.kv.key, w.key, w.end)) add(w, ev);
    }
    if (matched.size === 0) return;
    const header = this.source.header(rev);
    for (const [w, evs] of matched) {
      const out = filterEvents(w, evs);
      w.nextRev = rev + 1;
      if (out.length > 0) this.deliver(w, { header, watchId: w.id, events: out });
    }
  }

  /** A progress response to every idle synced watcher that asked for progress notifications. */
  progressTick(): void {
    for (const w of this.watchers.values()) {
      if (!w.progressNotify) continue;
      if (w.idle && w.state === 'synced') this.progress(w);
      w.idle = true;
    }
  }

  /** Moves every synced watcher to catch-up: after a restore, the history may have jumped. */
  resyncAll(): void {
    const cur = this.source.revision();
    for (const w of this.watchers.values()) {
      if (w.state !== 'synced') continue;
      w.nextRev = Math.max(w.nextRev, this.lastRev + 1);
      this.toUnsynced(w);
    }
    this.lastRev = cur;
  }

  /** Cancels every watcher without a response. */
  closeAll(): void {
    for (const w of [...this.watchers.values()]) this.close(w);
  }

  private progress(w: Watcher): void {
    if (w.state !== 'synced') return;
    const cur = this.source.revision();
    this.deliver(w, { header: this.source.header(cur), watchId: w.id, events: [], progressNotify: true });
  }

  private deliver(w: Watcher, res: WatchResponse): void {
    if (w.state === 'closed') return;
    if (res.events.length > 0) w.idle = false;
    let more: unknown;
    try {
      more = w.onResponse(res);
    } catch {
      // A throwing consumer is a bug on its side; it loses its watch, the store carries on.
      this.close(w);
      return;
    }
    if (more === false && (w.state as WatcherState) !== 'closed') this.toBlocked(w);
  }

  private toSynced(w: Watcher): void {
    this.unsynced.delete(w);
    w.state = 'synced';
    if (w.end === undefined) {
      const k = keyString(w.key);
      const set = this.singles.get(k);
      if (set === undefined) this.singles.set(k, new Set([w]));
      else set.add(w);
    } else {
      this.ranges.add(w);
    }
  }

  private leaveSynced(w: Watcher): void {
    if (w.state !== 'synced') return;
    w.nextRev = Math.max(w.nextRev, this.lastRev + 1);
    if (w.end === undefined) {
      const k = keyString(w.key);
      const set = this.singles.get(k);
      set?.delete(w);
      if (set?.size === 0) this.singles.delete(k);
    } else {
      this.ranges.delete(w);
    }
  }

  private toUnsynced(w: Watcher): void {
    this.leaveSynced(w);
    w.state = 'unsynced';
    this.unsynced.add(w);
    this.kick();
  }

  private toBlocked(w: Watcher): void {
    this.leaveSynced(w);
    this.unsynced.delete(w);
    w.state = 'blocked';
  }

  private close(w: Watcher): void {
    this.leaveSynced(w);
    this.unsynced.delete(w);
    w.state = 'closed';
    this.watchers.delete(w.id);
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.unsynced.size > 0) {
        this.kick();
        return;
      }
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    });
  }

  /** Catches unsynced watchers up, one bounded batch at a time, until none is left behind. */
  private async pump(): Promise<void> {
    while (this.unsynced.size > 0) {
      const cur = this.source.revision();
      const compact = this.source.compactRevision();
      let from = Number.POSITIVE_INFINITY;
      let withPrevKv = false;
      for (const w of [...this.unsynced]) {
        if (w.nextRev > cur) {
          this.toSynced(w);
        } else if (w.nextRev < compact) {
          this.compacted(w, cur, compact);
        } else {
          from = Math.min(from, w.nextRev);
          withPrevKv ||= w.prevKv;
        }
      }
      if (from === Number.POSITIVE_INFINITY) return;
      let batch: { events: RevEvent[]; lastRev: number };
      try {
        batch = await this.source.readEvents(from, cur, withPrevKv);
      } catch (err) {
        if (this.source.compactRevision() > from) continue; // compaction raced the read: recheck
        this.failUnsynced(err);
        return;
      }
      if (this.source.compactRevision() > from) continue; // records may have gone mid-read
      this.deliverBatch(batch, from, cur);
    }
  }

  private deliverBatch(batch: { events: RevEvent[]; lastRev: number }, from: number, cur: number): void {
    const header = this.source.header(cur);
    for (const w of [...this.unsynced]) {
      // A watcher that joined after the read started below `from` waits for the next batch.
      if (w.nextRev < from || w.nextRev > batch.lastRev) continue;
      const evs: WatchEvent[] = [];
      for (const e of batch.events) {
        if (e.rev >= w.nextRev && inEtcdRange(e.event.kv.key, w.key, w.end)) evs.push(e.event);
      }
      w.nextRev = batch.lastRev + 1;
      const out = filterEvents(w, evs);
      if (out.length > 0) this.deliver(w, { header, watchId: w.id, events: out });
      // Same synchronous step as the check: no revision can be published in between.
      if (w.state === 'unsynced' && w.nextRev > this.source.revision()) this.toSynced(w);
    }
  }

  private compacted(w: Watcher, cur: number, compact: number): void {
    this.deliver(w, {
      header: this.source.header(cur),
      watchId: w.id,
      events: [],
      compactRevision: compact,
      canceled: true,
      cancelReason: COMPACTED_REASON,
    });
    this.close(w);
  }

  private failUnsynced(err: unknown): void {
    const cur = this.source.revision();
    for (const w of [...this.unsynced]) {
      this.deliver(w, {
        header: this.source.header(cur),
        watchId: w.id,
        events: [],
        canceled: true,
        cancelReason: `watch catch-up failed: ${(err as Error).message}`,
      });
      this.close(w);
    }
  }
}

function filterEvents(w: Watcher, evs: readonly WatchEvent[]): WatchEvent[] {
  const out: WatchEvent[] = [];
  for (const ev of evs) {
    if (ev.type === 'put' ? w.noPut : w.noDelete) continue;
    if (w.prevKv || ev.prevKv === undefined) out.push(ev);
    else out.push({ type: ev.type, kv: ev.kv });
  }
  return out;
}
