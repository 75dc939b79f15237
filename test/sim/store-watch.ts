import { fromUtf8 } from '../../src/core/index.js';
import type { WatchEvent, WatchResponse } from '../../src/store/api.js';
import type { StoreSafety } from './store-safety.js';

/**
 * Watch checks of the store swarm. Every member incarnation opens a watch on the checked key
 * range; every response is checked as it arrives and the logs are compared after heal:
 * - ordered and atomic: revisions strictly increase across responses (all events of one revision
 *   in one response), and never go back inside one;
 * - the same events everywhere: the events of a revision are the same on every watcher that saw
 *   it (key, type, value, create revision, version);
 * - never lost: a watcher that saw revisions up to `r` saw every revision from its start to `r`
 *   that any other watcher saw in the range (the union of all watchers is the reference).
 * A watch canceled (compacted start, member stopped) stops being checked from then on.
 */
export class WatchChecker {
  /** revision → the events' signature, and which watcher saw it first. */
  private readonly revisions = new Map<number, { sig: string; watcher: string }>();
  private readonly logs: WatchLog[] = [];

  constructor(private readonly safety: StoreSafety) {}

  /** A new watcher's log; `startRevision` 0 means from the member's next revision. */
  open(name: string, startRevision: number): WatchLog {
    const log = new WatchLog(`${name}#${this.logs.length}`, startRevision, this);
    if (this.logs.length < 1_000) this.logs.push(log);
    return log;
  }

  /** Checks `sig` for `revision` against every other watcher's. */
  seen(watcher: string, revision: number, sig: string): void {
    const first = this.revisions.get(revision);
    if (first === undefined) this.revisions.set(revision, { sig, watcher });
    else if (first.sig !== sig)
      this.safety.violation(
        `watch events differ at revision ${revision}: ${first.sig} on ${first.watcher}, ${sig} on ${watcher}`,
      );
  }

  /** After heal: no watcher missed a revision another one saw, within its span. */
  checkNoLoss(): string | undefined {
    const all = [...this.revisions.keys()].sort((a, b) => a - b);
    for (const log of this.logs) {
      if (log.seen.length === 0) continue;
      const from = log.startRevision > 0 ? log.startRevision : log.seen[0]!;
      const to = log.seen[log.seen.length - 1]!;
      const mine = new Set(log.seen);
      const missing = all.filter((r) => r >= from && r <= to && !mine.has(r));
      if (missing.length > 0)
        return `watcher ${log.name} (from ${log.startRevision}) missed revisions ${missing.slice(0, 10).join(', ')} between ${from} and ${to}`;
    }
    return undefined;
  }

  /** Watchers opened, and events they saw, for the summary. */
  get counts(): { watchers: number; revisions: number } {
    return { watchers: this.logs.length, revisions: this.revisions.size };
  }

  violation(message: string): void {
    this.safety.violation(message);
  }
}

/** One watcher's delivered revisions. */
export class WatchLog {
  readonly seen: number[] = [];
  private last = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly startRevision: number,
    private readonly checker: WatchChecker,
  ) {}

  /** The watch's `onResponse`. */
  readonly onResponse = (res: WatchResponse): void => {
    if (this.closed) return;
    if (res.canceled || (res.compactRevision ?? 0) > 0) {
      this.closed = true;
      return;
    }
    let i = 0;
    while (i < res.events.length) {
      const revision = res.events[i]!.kv.modRevision;
      const group: WatchEvent[] = [];
      while (i < res.events.length && res.events[i]!.kv.modRevision === revision)
        group.push(res.events[i++]!);
      if (revision <= this.last) {
        this.checker.violation(
          `watcher ${this.name}: revision ${revision} delivered after ${this.last} (out of order, duplicated or split)`,
        );
        this.closed = true;
        return;
      }
      if (this.startRevision > 0 && revision < this.startRevision) {
        this.checker.violation(
          `watcher ${this.name}: revision ${revision} before its start ${this.startRevision}`,
        );
      }
      this.last = revision;
      if (this.seen.length < 100_000) this.seen.push(revision);
      this.checker.seen(this.name, revision, group.map(signature).join(' | '));
    }
  };
}

function signature(e: WatchEvent): string {
  const kv = e.kv;
  return `${e.type} ${fromUtf8(kv.key)}=${e.type === 'put' ? fromUtf8(kv.value) : ''} c${kv.createRevision} v${kv.version}`;
}
