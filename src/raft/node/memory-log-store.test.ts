import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Entry } from '../types.js';
import { MemoryRaftLogStore } from './memory-log-store.js';

const e = (index: number, term = 1): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array([index]),
});
const indexes = (es: Entry[]) => es.map((x) => `${x.index}@${x.term}`);

describe('MemoryRaftLogStore', () => {
  it('a crash keeps exactly what was synced', async () => {
    const s = new MemoryRaftLogStore();
    await s.save({ term: 1, vote: 1, commit: 0 }, [e(1), e(2)], true);
    await s.save({ term: 2, vote: 1, commit: 2 }, [e(3, 2)], false);
    assert.deepEqual(indexes((await s.load()).entries), ['1@1', '2@1', '3@2']);
    s.crash();
    const after = await s.load();
    assert.deepEqual(indexes(after.entries), ['1@1', '2@1']);
    assert.deepEqual(after.hardState, { term: 1, vote: 1, commit: 0 });
  });

  it('entries at an index replace it and everything after', async () => {
    const s = new MemoryRaftLogStore();
    await s.save(undefined, [e(1), e(2), e(3)], true);
    await s.save(undefined, [e(2, 2)], true);
    assert.deepEqual(indexes((await s.load()).entries), ['1@1', '2@2']);
  });

  it('a local snapshot keeps later entries; a leader snapshot that does not match drops them', async () => {
    const s = new MemoryRaftLogStore();
    await s.save(undefined, [e(1), e(2), e(3)], true);
    const cs = { voters: [1], learners: [] };
    await s.saveSnapshot({ meta: { index: 2, term: 1, confState: cs }, data: new Uint8Array() });
    assert.deepEqual(indexes((await s.load()).entries), ['3@1']);
    await s.saveSnapshot({ meta: { index: 10, term: 4, confState: cs }, data: new Uint8Array() });
    const loaded = await s.load();
    assert.equal(loaded.snapshot?.meta.index, 10);
    assert.deepEqual(loaded.entries, []);
    await s.save(undefined, [e(11, 4)], true);
    assert.deepEqual(indexes((await s.load()).entries), ['11@4']);
  });
});
