import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileDiscovery, parseSeedFile } from './file.js';
import { ManualClock, settle } from './manual-clock.test-helper.js';

describe('parseSeedFile', () => {
  it('reads one address per line with # comments and blank lines', () => {
    const text =
      '# seeds\n10.0.0.1:7946   # rack 1\n\n  Node-2.Example.com:7946\r\n[FD00::3]:7946\n10.0.0.1:7946\n';
    assert.deepEqual(parseSeedFile(text, 10), {
      ok: true,
      addresses: ['10.0.0.1:7946', 'node-2.example.com:7946', '[fd00::3]:7946'],
    });
  });

  it('reads a JSON array of strings', () => {
    assert.deepEqual(parseSeedFile(' ["10.0.0.1:1", "10.0.0.2:2", "10.0.0.1:1"]', 10), {
      ok: true,
      addresses: ['10.0.0.1:1', '10.0.0.2:2'],
    });
  });

  it('accepts an empty file as no seeds', () => {
    assert.deepEqual(parseSeedFile('', 10), { ok: true, addresses: [] });
    assert.deepEqual(parseSeedFile('# nothing yet\n', 10), { ok: true, addresses: [] });
  });

  it('rejects the whole file on one bad entry, naming where', () => {
    const bad = [
      ['10.0.0.1:1\n10.0.0.2\n', /line 2/],
      ['10.0.0.1:0\n', /line 1/],
      ['::1:7946\n', /line 1/],
      ['["10.0.0.1:1", 7]', /element 1/],
      ['["10.0.0.1:1"', /invalid JSON/],
      ['[] trailing', /invalid JSON/],
    ] as const;
    for (const [text, reason] of bad) {
      const parsed = parseSeedFile(text, 10);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    }
  });

  it('rejects more than maxAddresses distinct entries as over the limit', () => {
    const parsed = parseSeedFile('a.test:1\nb.test:1\nc.test:1\n', 2);
    assert.deepEqual(parsed.ok === false && parsed.overLimit, true);
    assert.equal(parseSeedFile('a.test:1\na.test:1\nb.test:1\n', 2).ok, true);
  });
});

describe('FileDiscovery', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-file-discovery-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  let n = 0;
  const fresh = () => join(dir, `seeds-${++n}.txt`);
  const nextChange = (p: FileDiscovery) =>
    new Promise<readonly string[]>((resolve) => {
      const off = p.onChange((list) => {
        off();
        resolve(list);
      });
    });

  it('reads the file on first discover and re-reads on reload()', async () => {
    const path = fresh();
    await writeFile(path, '10.0.0.1:7946\n');
    const file = new FileDiscovery({ path, clock: new ManualClock(), watch: false });
    assert.deepEqual(await file.discover(), ['10.0.0.1:7946']);
    await writeFile(path, '10.0.0.1:7946\n10.0.0.2:7946\n');
    assert.equal(await file.reload(), true);
    assert.deepEqual(await file.discover(), ['10.0.0.1:7946', '10.0.0.2:7946']);
    file.close();
  });

  it('keeps the last good list when the file becomes invalid, too large or missing', async () => {
    const path = fresh();
    await writeFile(path, '10.0.0.1:7946\n');
    const file = new FileDiscovery({
      path,
      clock: new ManualClock(),
      watch: false,
      limits: { maxFileBytes: 100 },
    });
    assert.deepEqual(await file.discover(), ['10.0.0.1:7946']);
    await writeFile(path, '10.0.0.1:7946\nthis is not an address\n');
    assert.equal(await file.reload(), false);
    await writeFile(path, `${'#'.repeat(200)}\n`);
    assert.equal(await file.reload(), false);
    await unlink(path);
    assert.equal(await file.reload(), false);
    assert.deepEqual(await file.discover(), ['10.0.0.1:7946']);
    assert.deepEqual(file.stats(), { refreshes: 1, failures: 2, malformed: 0, overLimit: 1 });
    file.close();
  });

  it('returns an empty list, not an error, when the file does not exist yet', async () => {
    const file = new FileDiscovery({ path: join(dir, 'absent'), clock: new ManualClock(), watch: false });
    assert.deepEqual(await file.discover(), []);
    assert.equal(file.stats().failures, 1);
    file.close();
  });

  it('notices changes by polling through the clock when fs.watch is off', async () => {
    const path = fresh();
    await writeFile(path, '10.0.0.1:7946\n');
    const clock = new ManualClock();
    const file = new FileDiscovery({ path, clock, pollIntervalMs: 1000, watch: false });
    await file.discover();
    const changed = nextChange(file);
    // Replace the file by rename, as config tools do (new inode).
    await writeFile(`${path}.tmp`, '10.0.0.9:7946\n');
    await rename(`${path}.tmp`, path);
    clock.advance(1000);
    assert.deepEqual(await changed, ['10.0.0.9:7946']);
    // An unchanged file is not re-read.
    const before = file.stats().refreshes;
    clock.advance(1000);
    await settle();
    assert.equal(file.stats().refreshes, before);
    file.close();
    assert.equal(clock.pending, 0);
  });

  it('notices changes through fs.watch without any clock tick', { timeout: 10_000 }, async () => {
    const path = fresh();
    await writeFile(path, '10.0.0.1:7946\n');
    const file = new FileDiscovery({ path, clock: new ManualClock(), watch: true });
    await file.discover();
    const changed = nextChange(file);
    await writeFile(path, '10.0.0.1:7946\n10.0.0.3:7946\n');
    assert.deepEqual(await changed, ['10.0.0.1:7946', '10.0.0.3:7946']);
    file.close();
  });

  it('folds concurrent reloads into one more read', async () => {
    const path = fresh();
    await writeFile(path, '10.0.0.1:7946\n');
    const file = new FileDiscovery({ path, clock: new ManualClock(), watch: false });
    const results = await Promise.all([file.reload(), file.reload(), file.reload()]);
    assert.deepEqual(results, [true, true, true]);
    assert.equal(file.stats().refreshes, 2);
    file.close();
  });

  it('validates options and rejects discover() after close', async () => {
    assert.throws(() => new FileDiscovery({ path: '', clock: new ManualClock() }), /path/);
    assert.throws(
      () => new FileDiscovery({ path: 'x', clock: new ManualClock(), pollIntervalMs: 0 }),
      /pollIntervalMs/,
    );
    const file = new FileDiscovery({ path: fresh(), clock: new ManualClock(), watch: false });
    file.close();
    await assert.rejects(file.discover(), { code: 'CLOSED' });
  });
});
