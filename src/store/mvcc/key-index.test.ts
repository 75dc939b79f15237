/**
 * KeyIndex: a key's state at every revision, against a history kept beside it.
 * Run: node --import tsx --test src/store/mvcc/key-index.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../core/index.js';
import { KeyIndex } from './key-index.js';

test('get(atRev) at every revision matches the history of puts and deletes, compaction too', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = Rng.fromSeed(seed);
    const ki = new KeyIndex();
    // history[r]: the expected state at revision r (undefined: the key does not exist).
    const history: ({ mod: number; created: number; version: number } | undefined)[] = [undefined];
    let live: { mod: number; created: number; version: number } | undefined;
    let compacted = 0;
    for (let rev = 1; rev <= 60; rev++) {
      const roll = rng.int(10);
      if (roll < 6 || live === undefined) {
        ki.put({ main: rev, sub: 0 });
        live = { mod: rev, created: live?.created ?? rev, version: (live?.version ?? 0) + 1 };
      } else if (roll < 8) {
        ki.tombstone({ main: rev, sub: 0 });
        live = undefined;
      } else {
        // Another key's revision: nothing changes for this one.
      }
      history.push(live === undefined ? undefined : { ...live });
      if (rng.int(15) === 0 && live !== undefined) {
        compacted = rev;
        ki.compact(rev, new Set());
      }
      for (let at = compacted; at <= rev + 1; at++) {
        const got = ki.get(at);
        const want = history[Math.min(at, rev)];
        assert.deepEqual(
          got === undefined
            ? undefined
            : { mod: got.mod.main, created: got.created.main, version: got.version },
          want,
          `seed ${seed}: state at ${at} after revision ${rev}`,
        );
      }
    }
  }
});
