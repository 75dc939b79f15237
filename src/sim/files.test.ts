/**
 * SimFiles: the LogFiles contract, then what a crash keeps and loses.
 * Run: node --import tsx --test src/sim/files.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLogFilesContract } from '../../test/contract/log-files-contract.js';
import { fromUtf8, isCairnError, Rng, utf8 } from '../core/index.js';
import { SimFiles } from './files.js';
import { Simulator } from './simulator.js';

describeLogFilesContract('sim', async () => {
  const files = new SimFiles({ rng: Rng.fromSeed(1) });
  return {
    files,
    restart: async () => {
      files.shutdown();
      files.reopen();
      return files;
    },
    cleanup: async () => undefined,
  };
});

async function content(files: SimFiles, name: string): Promise<string> {
  const f = await files.open(name);
  return fromUtf8(await f.read(0, f.size));
}

describe('SimFiles crash semantics', () => {
  it('keeps synced bytes and drops unsynced ones (no Rng: never a torn prefix)', async () => {
    const files = new SimFiles();
    const f = await files.open('a.wal', { create: true });
    await f.append(utf8('synced'));
    await f.sync();
    await files.syncDirectory();
    await f.append(utf8('-lost'));
    files.crash();
    await assert.rejects(
      f.append(utf8('x')),
      (e) => isCairnError(e, 'CLOSED'),
      'old handles die with the crash',
    );
    files.reopen();
    assert.equal(await content(files, 'a.wal'), 'synced');
    assert.equal(files.stats.lostBytes, 5);
  });

  it('a file whose directory entry was never synced vanishes, even with its data synced', async () => {
    const files = new SimFiles();
    const f = await files.open('new.wal', { create: true });
    await f.append(utf8('data'));
    await f.sync();
    files.crash();
    files.reopen();
    assert.deepEqual(await files.list(), []);
  });

  it('an unsynced rename or remove is undone by a crash; a synced one is not', async () => {
    const files = new SimFiles();
    for (const n of ['a', 'b']) {
      const f = await files.open(`${n}.wal`, { create: true });
      await f.append(utf8(n));
      await f.sync();
    }
    await files.syncDirectory();
    await files.rename('a.wal', 'c.wal');
    await files.remove('b.wal');
    files.crash();
    files.reopen();
    assert.deepEqual(await files.list(), ['a.wal', 'b.wal']);
    await files.rename('a.wal', 'c.wal');
    await files.syncDirectory();
    files.crash();
    files.reopen();
    assert.deepEqual(await files.list(), ['b.wal', 'c.wal']);
  });

  it('an unsynced truncate is undone by a crash, restoring the synced bytes', async () => {
    const files = new SimFiles();
    const f = await files.open('t.wal', { create: true });
    await f.append(utf8('0123456789'));
    await f.sync();
    await files.syncDirectory();
    await f.truncate(3);
    await f.append(utf8('xyz'));
    assert.equal(await content(files, 't.wal'), '012xyz');
    files.crash();
    files.reopen();
    assert.equal(await content(files, 't.wal'), '0123456789');
  });

  it('a crash keeps a prefix of the unsynced bytes, and over seeds both whole losses and torn prefixes occur', async () => {
    const kept = new Set<number>();
    for (let seed = 0; seed < 64; seed++) {
      const files = new SimFiles({ rng: Rng.fromSeed(seed) });
      const f = await files.open('a.wal', { create: true });
      await f.append(utf8('base'));
      await f.sync();
      await files.syncDirectory();
      await f.append(utf8('0123456789'));
      files.crash();
      files.reopen();
      const text = await content(files, 'a.wal');
      assert.ok(text.startsWith('base') && '0123456789'.startsWith(text.slice(4)), `seed=${seed}: ${text}`);
      kept.add(text.length - 4);
    }
    assert.ok(kept.has(0), 'some crashes keep none of the unsynced bytes');
    assert.ok(
      [...kept].some((n) => n > 0 && n < 10),
      'some crashes keep a torn prefix',
    );
  });

  it('a clean shutdown keeps everything', async () => {
    const files = new SimFiles();
    const f = await files.open('a.wal', { create: true });
    await f.append(utf8('all of it'));
    files.shutdown();
    files.reopen();
    assert.equal(await content(files, 'a.wal'), 'all of it');
  });

  it('in the simulator: files survive a node restart, a sync pending at the crash never completes', async () => {
    const sim = new Simulator({ seed: 3 });
    sim.addNode('n', () => ({}), { files: { syncLatencyMs: 10 } });
    const files = sim.filesOf('n');
    const f = await files.open('a.wal', { create: true });
    await f.append(utf8('first'));
    const first = f.sync();
    const dir = files.syncDirectory();
    await sim.runFor(20);
    await first;
    await dir;
    await f.append(utf8('second'));
    let settled = false;
    void f.sync().then(
      () => (settled = true),
      () => (settled = true),
    );
    await sim.runFor(5);
    sim.crash('n');
    await sim.runFor(100);
    assert.equal(settled, false, "a crashed node's pending sync never completes");
    sim.restart('n');
    assert.equal(sim.filesOf('n'), files, 'the restarted node gets the same files');
    const text = await content(files, 'a.wal');
    assert.ok(text === 'first' || (text.startsWith('first') && 'firstsecond'.startsWith(text)), text);
  });

  it("a node's factory context gets the same files across restarts", async () => {
    const sim = new Simulator({ seed: 4 });
    const seen: SimFiles[] = [];
    sim.addNode('n', (ctx) => {
      seen.push(ctx.files);
      return {};
    });
    sim.crash('n');
    sim.restart('n');
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1]);
  });
});
