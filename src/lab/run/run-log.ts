import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../core/index.js';

/**
 * The run's log: `<dir>/run.jsonl`, one JSON object per line, each with `t` (ms since the run's
 * epoch, the lab's clock every record and checker uses) and `wall` (ISO time, to line up with the
 * agents' own logs in the same folder). The schedule, every fault's start and end, every view
 * change and the result go here. Lines are appended synchronously: a run killed by SIGKILL keeps
 * every line written before.
 */
export class RunLog {
  /** The run's epoch in the clock's time. */
  readonly epoch: number;
  private readonly file: string;

  /**
   * @param dir - the run's log directory (created)
   * @param clock - the lab's clock
   * @param progress - called with each line meant for a person (fault start and end, phases)
   */
  constructor(
    readonly dir: string,
    private readonly clock: Clock,
    private readonly progress: (line: string) => void,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'run.jsonl');
    this.epoch = clock.now();
  }

  /** ms since the epoch. */
  now(): number {
    return Math.round(this.clock.now() - this.epoch);
  }

  /** Appends a record; returns its time. */
  record(type: string, fields: Record<string, unknown> = {}): number {
    const t = this.now();
    appendFileSync(
      this.file,
      `${JSON.stringify({ t, wall: new Date(this.epoch + t).toISOString(), type, ...fields })}\n`,
    );
    return t;
  }

  /** Appends a record and prints `text` as progress, prefixed with the time. */
  say(type: string, text: string, fields: Record<string, unknown> = {}): number {
    const t = this.record(type, { text, ...fields });
    this.progress(`[${(t / 1000).toFixed(1).padStart(7)}s] ${text}`);
    return t;
  }
}
