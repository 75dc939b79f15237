/**
 * Durable raft log benchmark: `npm run bench -- raft-log [--seconds=2] [--max-saves=200000]`.
 *
 * Runs the segment log on a temporary directory of the real filesystem with 1, 16 and 256
 * concurrent savers. Each saver loops: save one 100-byte entry with `sync: true`, await it, save
 * the next. Group commit coalesces the savers' records into one write and one fdatasync, so
 * saves/s should grow with concurrency while syncs/s stays near the disk's fsync rate. Each run
 * stops at a time budget or a save cap, whichever comes first. Prints saves/s, syncs/s and the
 * mean saves per sync.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NodeLogFiles } from '../src/raft/log/node-files.js';
import { SegmentLogStore } from '../src/raft/log/segment-log.js';
import type { Entry } from '../src/raft/types.js';

function flag(argv: string[], name: string, fallback: number): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

interface Result {
  savers: number;
  saves: number;
  seconds: number;
  savesPerSecond: number;
  syncsPerSecond: number;
  savesPerSync: number;
}

async function runOnce(savers: number, seconds: number, maxSaves: number): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-raftlog-'));
  try {
    const store = await SegmentLogStore.open({ files: await NodeLogFiles.open(dir) });
    const payload = new Uint8Array(100).fill(0x61);
    let next = 1;
    let saves = 0;
    const deadline = performance.now() + seconds * 1000;
    const syncsBefore = store.stats.syncs;
    const start = performance.now();
    const saver = async () => {
      while (performance.now() < deadline && saves < maxSaves) {
        // Indexes are claimed in call order, so the saves stay contiguous across savers.
        const entry: Entry = { term: 1, index: next++, type: 'normal', data: payload };
        await store.save({ term: 1, vote: 1, commit: entry.index - 1 }, [entry], true);
        saves++;
      }
    };
    await Promise.all(Array.from({ length: savers }, saver));
    const elapsed = (performance.now() - start) / 1000;
    const syncs = store.stats.syncs - syncsBefore;
    await store.close();
    const result = {
      savers,
      saves,
      seconds: Number(elapsed.toFixed(3)),
      savesPerSecond: Math.round(saves / elapsed),
      syncsPerSecond: Math.round(syncs / elapsed),
      savesPerSync: Number((saves / Math.max(1, syncs)).toFixed(1)),
    };
    process.stderr.write(
      `${savers} savers: ${result.savesPerSecond} saves/s, ${result.syncsPerSecond} syncs/s, ${result.savesPerSync} saves per sync\n`,
    );
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Entry point for bench/run.ts. */
export async function main(argv: string[]): Promise<object> {
  const seconds = flag(argv, 'seconds', 2);
  const maxSaves = flag(argv, 'max-saves', 200_000);
  const runs: Result[] = [];
  for (const savers of [1, 16, 256]) runs.push(await runOnce(savers, seconds, maxSaves));
  return { entryBytes: 100, dir: tmpdir(), runs };
}
