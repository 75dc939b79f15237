import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, Rng, silentLogger } from '../../core/index.js';
import { CompositeDiscovery, mergeAddresses } from './composite.js';
import { ManualClock, settle } from './manual-clock.test-helper.js';
import { backoffDelayMs, Reseeder } from './reseeder.js';
import { StaticDiscovery } from './static.js';
import { ChangeListeners, type DiscoveryProvider } from './types.js';

/** A provider whose answers the test scripts, one per call (the last one repeats). */
class ScriptedProvider implements DiscoveryProvider {
  calls = 0;
  closed = false;
  private readonly listeners = new ChangeListeners(8, silentLogger());
  constructor(
    readonly name: string,
    private readonly script: (string[] | Error | 'hang')[],
  ) {}
  discover(): Promise<string[]> {
    const step = this.script[Math.min(this.calls, this.script.length - 1)]!;
    this.calls++;
    if (step === 'hang') return new Promise(() => {});
    return step instanceof Error ? Promise.reject(step) : Promise.resolve([...step]);
  }
  onChange(listener: (a: readonly string[]) => void): () => void {
    return this.listeners.add(listener);
  }
  push(list: string[]): void {
    this.listeners.emit(list);
  }
  close(): void {
    this.closed = true;
  }
}

/** Runs `seeds()` while advancing the manual clock until it settles (bounded). */
async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 100,
  maxSteps = 10_000,
): Promise<T> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < maxSteps && !done; i++) {
    await settle(2);
    if (!done) clock.advance(stepMs);
  }
  assert.ok(done, 'did not settle within the step bound');
  return promise;
}

describe('mergeAddresses', () => {
  it('keeps first occurrences in order and drops excluded ones', () => {
    assert.deepEqual(
      mergeAddresses(
        [
          ['a:1', 'b:1'],
          ['b:1', 'c:1', 'me:1'],
        ],
        new Set(['me:1']),
      ),
      ['a:1', 'b:1', 'c:1'],
    );
  });
});

describe('StaticDiscovery', () => {
  it('normalises, deduplicates and validates at construction', async () => {
    const s = new StaticDiscovery([
      '10.0.0.1:7946',
      'Seed.Example.com:7946',
      '10.0.0.1:7946',
      '[FD00::1]:7946',
    ]);
    assert.deepEqual(await s.discover(), ['10.0.0.1:7946', 'seed.example.com:7946', '[fd00::1]:7946']);
    assert.throws(() => new StaticDiscovery(['10.0.0.1:7946', 'nonsense']), {
      code: 'INVALID_ARGUMENT',
      message: /static seed #1 "nonsense"/,
    });
    assert.throws(() => new StaticDiscovery(['10.0.0.1:0']), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new StaticDiscovery(['10.0.0.1:65536']), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new StaticDiscovery(['fd00::1:7946']), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new StaticDiscovery(['a.test:1', 'b.test:1'], { maxAddressesPerAnswer: 1 }), {
      code: 'LIMIT_EXCEEDED',
    });
    s.close();
    await assert.rejects(s.discover(), { code: 'CLOSED' });
  });
});

describe('CompositeDiscovery', () => {
  it('merges answers in provider order and survives a failing provider', async () => {
    const a = new ScriptedProvider('a', [['10.0.0.1:1', '10.0.0.2:1']]);
    const broken = new ScriptedProvider('broken', [new CairnError('IO_ERROR', 'boom')]);
    const b = new ScriptedProvider('b', [['10.0.0.2:1', '10.0.0.3:1']]);
    const c = new CompositeDiscovery([a, broken, b]);
    assert.deepEqual(await c.discover(), ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);
    assert.deepEqual(c.stats(), { refreshes: 2, failures: 1, malformed: 0, overLimit: 0 });
    c.close();
    assert.ok(a.closed && broken.closed && b.closed);
  });

  it('returns what arrived when the signal aborts, and rejects only if nothing did', async () => {
    const fast = new ScriptedProvider('fast', [['10.0.0.1:1']]);
    const slow = new ScriptedProvider('slow', ['hang']);
    const c = new CompositeDiscovery([fast, slow]);
    const ctl = new AbortController();
    const pending = c.discover(ctl.signal);
    await settle();
    ctl.abort();
    assert.deepEqual(await pending, ['10.0.0.1:1']);
    const onlySlow = new CompositeDiscovery([new ScriptedProvider('slow', ['hang'])]);
    await assert.rejects(onlySlow.discover(AbortSignal.abort()), { code: 'CANCELLED' });
  });

  it('pushes the merged latest answers when a provider reports a change', async () => {
    const a = new ScriptedProvider('a', [['10.0.0.1:1']]);
    const b = new ScriptedProvider('b', [['10.0.0.2:1']]);
    const c = new CompositeDiscovery([a, b]);
    await c.discover();
    const seen: (readonly string[])[] = [];
    c.onChange((list) => seen.push(list));
    b.push(['10.0.0.9:1']);
    await settle();
    assert.deepEqual(seen, [['10.0.0.1:1', '10.0.0.9:1']]);
  });

  it('rejects more than maxProviders providers', () => {
    const p = new ScriptedProvider('p', [[]]);
    assert.throws(() => new CompositeDiscovery([p, p, p], { limits: { maxProviders: 2 } }), {
      code: 'LIMIT_EXCEEDED',
    });
  });
});

describe('backoffDelayMs', () => {
  it('doubles up to the maximum, jittered within [base/2, base]', () => {
    const rng = Rng.fromSeed('backoff');
    const opts = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    for (let attempt = 1; attempt <= 10; attempt++) {
      const base = Math.min(1000, 100 * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelayMs(attempt, opts, rng);
        assert.ok(d >= base / 2 && d <= base, `attempt ${attempt}: ${d} outside [${base / 2}, ${base}]`);
      }
    }
  });
});

describe('Reseeder', () => {
  it('returns merged seeds without the local address on the first attempt', async () => {
    const clock = new ManualClock();
    const r = new Reseeder({
      providers: [
        new StaticDiscovery(['10.0.0.5:7946', '10.0.0.1:7946']),
        new StaticDiscovery(['10.0.0.2:7946']),
      ],
      clock,
      rng: Rng.fromSeed(1),
      localAddress: '10.0.0.5:7946',
    });
    assert.deepEqual(await r.seeds(), ['10.0.0.1:7946', '10.0.0.2:7946']);
    assert.equal(r.attempts, 1);
    r.close();
  });

  it('retries with growing, jittered backoff until a provider answers', async () => {
    const clock = new ManualClock();
    const empty = new ScriptedProvider('empty', [[]]);
    const late = new ScriptedProvider('late', [
      [],
      new Error('dns down'),
      ['10.0.0.5:7946'],
      ['10.0.0.7:7946'],
    ]);
    const r = new Reseeder({
      providers: [empty, late],
      clock,
      rng: Rng.fromSeed('reseed'),
      localAddress: ['10.0.0.5:7946'],
      initialBackoffMs: 1000,
      maxBackoffMs: 8000,
    });
    const start = clock.now();
    const seeds = await drive(clock, r.seeds(), 50);
    assert.deepEqual(seeds, ['10.0.0.7:7946']);
    assert.equal(r.attempts, 4);
    // Three waits: [500,1000] + [1000,2000] + [2000,4000] ms of virtual time.
    const waited = clock.now() - start;
    assert.ok(waited >= 3500 && waited <= 7000 + 150, `waited ${waited} ms`);
    r.close();
  });

  it('gives up with an empty list after maxAttempts', async () => {
    const clock = new ManualClock();
    const p = new ScriptedProvider('empty', [[]]);
    const r = new Reseeder({
      providers: [p],
      clock,
      rng: Rng.fromSeed(2),
      maxAttempts: 5,
      initialBackoffMs: 100,
      maxBackoffMs: 400,
    });
    assert.deepEqual(await drive(clock, r.seeds()), []);
    assert.equal(p.calls, 5);
    r.close();
  });

  it('bounds each attempt by attemptTimeoutMs, keeping a fast provider answer', async () => {
    const clock = new ManualClock();
    const r = new Reseeder({
      providers: [new ScriptedProvider('hang', ['hang']), new ScriptedProvider('ok', [['10.0.0.1:1']])],
      clock,
      rng: Rng.fromSeed(3),
      attemptTimeoutMs: 1000,
    });
    assert.deepEqual(await drive(clock, r.seeds()), ['10.0.0.1:1']);
    const stuck = new Reseeder({
      providers: [new ScriptedProvider('hang', ['hang'])],
      clock,
      rng: Rng.fromSeed(3),
      attemptTimeoutMs: 1000,
      maxAttempts: 2,
      initialBackoffMs: 100,
    });
    assert.deepEqual(await drive(clock, stuck.seeds()), []);
    assert.equal(stuck.attempts, 2);
    r.close();
    stuck.close();
  });

  it('rejects with CANCELLED on abort and CLOSED on close, mid-backoff', async () => {
    const clock = new ManualClock();
    const r = new Reseeder({ providers: [new ScriptedProvider('e', [[]])], clock, rng: Rng.fromSeed(4) });
    const ctl = new AbortController();
    const cancelled = r.seeds(ctl.signal);
    await settle();
    ctl.abort();
    await assert.rejects(cancelled, { code: 'CANCELLED' });
    const closed = r.seeds();
    await settle();
    r.close();
    await assert.rejects(closed, { code: 'CLOSED' });
    await assert.rejects(r.seeds(), { code: 'CLOSED' });
  });

  it('validates its options', () => {
    const base = { providers: [], clock: new ManualClock(), rng: Rng.fromSeed(5) };
    assert.throws(() => new Reseeder({ ...base, maxAttempts: 0 }), /maxAttempts/);
    assert.throws(() => new Reseeder({ ...base, maxAttempts: 1.5 }), /maxAttempts/);
    assert.throws(() => new Reseeder({ ...base, maxAttempts: 1000 }), { code: 'LIMIT_EXCEEDED' });
    assert.throws(() => new Reseeder({ ...base, initialBackoffMs: -1 }), /initialBackoffMs/);
    assert.throws(() => new Reseeder({ ...base, localAddress: 'not-an-address' }), {
      code: 'INVALID_ARGUMENT',
    });
  });
});
