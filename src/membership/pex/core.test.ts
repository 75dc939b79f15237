import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError, Rng } from '../../core/index.js';
import { lanPexConfig, type PexConfig, testPexConfig } from './config.js';
import { PexCore, type PexEffects, type PexInput } from './core.js';
import { DEFAULT_LIMITS } from './limits.js';
import { encodePexMessage, type PexDescriptor, type PexMessage, type PexPush } from './messages.js';

const A = '10.0.0.1:7946';
const B = '10.0.0.2:7946';
const C = '10.0.0.3:7946';
const D = '10.0.0.4:7946';

function core(self: string, config: PexConfig = testPexConfig(), seed: number | string = self): PexCore {
  return new PexCore({ self, config, rng: Rng.fromSeed(seed), nowMs: 0 });
}

/** Ticks `c` at its own timer until it sends something; returns the effects and the time. */
function tickUntilSend(c: PexCore, from: number): { fx: PexEffects; now: number } {
  let now = from;
  for (let i = 0; i < 10; i++) {
    now = Math.max(now, c.nextTimerAtMs());
    const fx = c.step({ type: 'tick' }, now);
    if (fx.sends.length > 0) return { fx, now };
  }
  assert.fail('the core never sent anything');
}

const addresses = (ds: readonly PexDescriptor[]) => ds.map((d) => d.address).sort();

describe('PexCore: one exchange by hand', () => {
  it('push-pull between two nodes: each learns the other as a fresh descriptor', () => {
    const a = core(A);
    const b = core(B);
    a.step({ type: 'seed', addresses: [B] }, 0);
    const { fx, now } = tickUntilSend(a, 0);
    assert.equal(fx.sends.length, 1);
    const push = fx.sends[0]!;
    assert.equal(push.to, B);
    assert.equal(push.message.type, 'PexPush');
    assert.deepEqual(push.message.entries, [{ address: A, age: 0 }], 'the partner is not sent to itself');
    assert.equal(a.viewEntries()[0]!.age, 1, 'ages grow once per cycle');

    const reply = b.step({ type: 'message', from: A, message: push.message }, now + 1);
    assert.equal(reply.sends.length, 1);
    assert.equal(reply.sends[0]!.to, A);
    assert.deepEqual(reply.sends[0]!.message, {
      type: 'PexPull',
      id: push.message.id,
      entries: [{ address: B, age: 0 }],
    });
    assert.deepEqual(b.viewEntries(), [{ address: A, age: 0 }]);

    a.step({ type: 'message', from: B, message: reply.sends[0]!.message }, now + 2);
    assert.deepEqual(a.viewEntries(), [{ address: B, age: 0 }]);
    assert.equal(a.counters.exchangesCompleted, 1);
    assert.equal(b.counters.exchangesAnswered, 1);
  });

  it('the active side swaps out what it sent; the passive side swaps out what it replied', () => {
    // c=4, H=0, S=2. A knows B, C, D; B knows nothing but will learn A, C/D.
    const config = testPexConfig({ viewSize: 4, healing: 0, swap: 2 });
    const a = core(A, config);
    a.step({ type: 'seed', addresses: [B, C, D] }, 0);
    const { fx } = tickUntilSend(a, 0);
    const push = fx.sends[0]!.message;
    const sent = push.entries.slice(1).map((d) => d.address);
    assert.equal(push.entries.length, 2, 'c/2 = 2 descriptors: self and one other');
    // The reply brings 2 new descriptors; A is then at 5 > c=4, so it drops what it sent.
    const pull: PexMessage = {
      type: 'PexPull',
      id: push.id,
      entries: [
        { address: '10.0.0.9:7946', age: 0 },
        { address: '10.0.0.8:7946', age: 3 },
      ],
    };
    a.step({ type: 'message', from: fx.sends[0]!.to, message: pull }, 1);
    const view = addresses(a.viewEntries());
    assert.equal(view.length, 4);
    for (const s of sent) assert.ok(!view.includes(s), `${s} was sent and should have been swapped out`);
  });
});

describe('PexCore: failed exchanges', () => {
  const E = '10.0.0.5:7946';
  it('with H > 0 and a full view, a peer that does not answer is evicted', () => {
    const a = core(A, testPexConfig({ viewSize: 4, healing: 1, swap: 1 }));
    a.step({ type: 'seed', addresses: [B, C, D, E] }, 0);
    const first = tickUntilSend(a, 0);
    const dead = first.fx.sends[0]!.to;
    a.step({ type: 'tick' }, first.now + a.config.exchangeTimeoutMs);
    assert.equal(a.counters.timeouts, 1);
    assert.equal(a.viewEntries().length, 3);
    assert.ok(!addresses(a.viewEntries()).includes(dead));
  });

  it('with H > 0 and room in the view, it becomes the oldest and healing drops it at the next merge', () => {
    const a = core(A, testPexConfig({ viewSize: 4, healing: 1, swap: 1 }));
    a.step({ type: 'seed', addresses: [B, C, D] }, 0);
    const first = tickUntilSend(a, 0);
    const dead = first.fx.sends[0]!.to;
    a.step({ type: 'tick' }, first.now + a.config.exchangeTimeoutMs);
    const ages = new Map(a.viewEntries().map((d) => [d.address, d.age]));
    assert.equal(ages.size, 3, 'a view with room must not shrink on a timeout');
    assert.ok(
      [...ages].every(([addr, age]) => addr === dead || age < ages.get(dead)!),
      'failed peer is not the oldest',
    );
    // The next exchange goes elsewhere; its reply overflows the view and healing drops `dead`.
    const second = tickUntilSend(a, first.now + a.config.exchangeIntervalMs);
    const partner = second.fx.sends[0]!.to;
    assert.notEqual(partner, dead);
    const pull: PexMessage = {
      type: 'PexPull',
      id: second.fx.sends[0]!.message.id,
      entries: [
        { address: partner, age: 0 },
        { address: '10.0.0.8:7946', age: 0 },
        { address: '10.0.0.9:7946', age: 0 },
      ],
    };
    a.step({ type: 'message', from: partner, message: pull }, second.now + 1);
    assert.ok(!addresses(a.viewEntries()).includes(dead), 'healing kept the failed peer');
    assert.equal(a.viewEntries().length, 4);
  });

  it('a failed peer refreshed by a third party during the exchange is not aged', () => {
    const a = core(A, testPexConfig({ healing: 1, swap: 3 }));
    a.step({ type: 'seed', addresses: [B] }, 0);
    const { now } = tickUntilSend(a, 0);
    const push: PexPush = {
      type: 'PexPush',
      id: 1,
      entries: [
        { address: C, age: 5 },
        { address: B, age: 0 },
      ],
    };
    a.step({ type: 'message', from: C, message: push }, now + 1);
    a.step({ type: 'tick' }, now + a.config.exchangeTimeoutMs);
    assert.deepEqual(a.viewEntries().find((d) => d.address === B)?.age, 0);
  });

  it('with H = 0 a failed peer is never dropped, and is retried only when no other peer is left', () => {
    const a = core(A, testPexConfig({ viewSize: 4, healing: 0, swap: 2 }));
    a.step({ type: 'seed', addresses: [B, C] }, 0);
    const first = tickUntilSend(a, 0);
    const x = first.fx.sends[0]!.to;
    a.step({ type: 'tick' }, first.now + a.config.exchangeTimeoutMs);
    const second = tickUntilSend(a, first.now + a.config.exchangeIntervalMs);
    const y = second.fx.sends[0]!.to;
    assert.notEqual(y, x, 'the failed peer was picked while another was available');
    a.step({ type: 'tick' }, second.now + a.config.exchangeTimeoutMs);
    const third = tickUntilSend(a, second.now + a.config.exchangeIntervalMs);
    assert.ok([B, C].includes(third.fx.sends[0]!.to), 'a node whose peers all failed must retry');
    assert.deepEqual(addresses(a.viewEntries()), [B, C]);
  });

  it('ignores a reply with an unknown id or from the wrong address', () => {
    const a = core(A);
    a.step({ type: 'seed', addresses: [B] }, 0);
    const { fx, now } = tickUntilSend(a, 0);
    const id = fx.sends[0]!.message.id;
    const entries = [{ address: D, age: 0 }];
    a.step(
      { type: 'message', from: B, message: { type: 'PexPull', id: (id + 1) % 2 ** 32, entries } },
      now + 1,
    );
    a.step({ type: 'message', from: C, message: { type: 'PexPull', id, entries } }, now + 1);
    assert.equal(a.counters.ignored, 2);
    assert.deepEqual(addresses(a.viewEntries()), [B]);
  });
});

describe('PexCore: API', () => {
  it('seed rejects a bad address and changes nothing', () => {
    const a = core(A);
    a.step({ type: 'seed', addresses: [B] }, 0);
    assert.throws(
      () => a.step({ type: 'seed', addresses: [C, 'not an address'] }, 0),
      (e) => isCairnError(e, 'INVALID_ARGUMENT') && /not an address/.test(e.message),
    );
    assert.deepEqual(addresses(a.viewEntries()), [B]);
  });

  it('seed ignores self and keeps at most c; remove forgets', () => {
    const a = core(A, testPexConfig({ viewSize: 4, healing: 1, swap: 1 }));
    const many = Array.from({ length: 10 }, (_, i) => `10.0.1.${i}:7946`);
    a.step({ type: 'seed', addresses: [A, ...many] }, 0);
    assert.equal(a.viewEntries().length, 4);
    const victim = a.viewEntries()[0]!.address;
    a.step({ type: 'remove', address: victim }, 0);
    assert.ok(!addresses(a.viewEntries()).includes(victim));
  });

  it('exchange starts an exchange with any address, once at a time, never with self', () => {
    const a = core(A);
    const fx = a.step({ type: 'exchange', address: B }, 5);
    assert.equal(fx.sends.length, 1);
    assert.equal(fx.sends[0]!.to, B);
    assert.equal(fx.sends[0]!.message.type, 'PexPush');
    assert.equal(
      a.step({ type: 'exchange', address: B }, 6).sends.length,
      0,
      'one pending exchange per peer',
    );
    assert.equal(a.step({ type: 'exchange', address: A }, 6).sends.length, 0);
    assert.throws(
      () => a.step({ type: 'exchange', address: 'x' }, 6),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    const pull: PexMessage = {
      type: 'PexPull',
      id: fx.sends[0]!.message.id,
      entries: [{ address: B, age: 0 }],
    };
    a.step({ type: 'message', from: B, message: pull }, 7);
    assert.deepEqual(addresses(a.viewEntries()), [B]);
  });

  it('sample draws distinct entries of the view', () => {
    const a = core(A);
    a.step({ type: 'seed', addresses: [B, C, D] }, 0);
    const s = a.sample(2);
    assert.equal(s.length, 2);
    assert.equal(new Set(s.map((d) => d.address)).size, 2);
    assert.equal(a.sample(10).length, 3);
    assert.throws(
      () => a.sample(-1),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('rejects a bad own address and an MTU too small for its own descriptor', () => {
    assert.throws(
      () => core('nope'),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () =>
        new PexCore({ self: A, config: lanPexConfig(), rng: Rng.fromSeed(1), nowMs: 0, maxMessageBytes: 20 }),
      (e) => isCairnError(e, 'INVALID_CONFIG'),
    );
  });
});

// Adversarial inputs: a small address pool (so duplicates are common), self, ages up to maxAge,
// buffers up to the entry limit, replies with guessed or real ids, seeds, removes, time jumps.
const POOL = [A, B, C, D, ...Array.from({ length: 12 }, (_, i) => `10.0.2.${i}:7946`)];
const descriptor = fc
  .record({
    address: fc.constantFrom(...POOL),
    age: fc.oneof(fc.nat(5), fc.constant(DEFAULT_LIMITS.maxAge), fc.nat(DEFAULT_LIMITS.maxAge)),
    id: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
  })
  .map(
    (d): PexDescriptor =>
      d.id === undefined ? { address: d.address, age: d.age } : { address: d.address, age: d.age, id: d.id },
  );
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tick' as const), advance: fc.nat(400) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      from: fc.constantFrom(...POOL),
      type: fc.constantFrom('PexPush' as const, 'PexPull' as const),
      useRealId: fc.boolean(),
      id: fc.nat(),
      entries: fc.array(descriptor, { maxLength: DEFAULT_LIMITS.maxBufferEntries }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('exchange' as const), address: fc.constantFrom(...POOL) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('seed' as const),
      addresses: fc.array(fc.constantFrom(...POOL), { maxLength: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('remove' as const), address: fc.constantFrom(...POOL) }),
  },
);

describe('PexCore: invariants under any input sequence (fast-check)', () => {
  it('view ≤ c, no self, no duplicates, valid ages; sends are bounded, well-formed and never to self', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.nat(6),
        fc.constantFrom('tail' as const, 'rand' as const),
        fc.integer({ min: 200, max: 1400 }),
        fc.array(op, { maxLength: 60 }),
        fc.integer(),
        (viewSize, h, peerSelection, mtu, ops, seed) => {
          const healing = Math.min(h, Math.floor(viewSize / 2));
          const config = testPexConfig({
            viewSize,
            healing,
            swap: Math.floor(viewSize / 2) - healing,
            peerSelection,
          });
          const c = new PexCore({ self: A, config, rng: Rng.fromSeed(seed), nowMs: 0, maxMessageBytes: mtu });
          let now = 0;
          let lastId = 0;
          for (const o of ops) {
            let input: PexInput;
            if (o.kind === 'tick') {
              now += o.advance;
              input = { type: 'tick' };
            } else if (o.kind === 'message') {
              const id = o.useRealId ? lastId : o.id;
              input = { type: 'message', from: o.from, message: { type: o.type, id, entries: o.entries } };
            } else if (o.kind === 'seed') {
              input = { type: 'seed', addresses: o.addresses };
            } else if (o.kind === 'exchange') {
              input = { type: 'exchange', address: o.address };
            } else {
              input = { type: 'remove', address: o.address };
            }
            const fx = c.step(input, now);
            assert.ok(fx.timerAtMs >= now, 'the next timer must not be in the past');
            if (input.type === 'tick') assert.ok(fx.timerAtMs > now, 'a tick must move the timer forward');
            for (const s of fx.sends) {
              assert.notEqual(s.to, A);
              assert.deepEqual(s.message.entries[0], { address: A, age: 0 });
              assert.ok(s.message.entries.length <= Math.max(1, Math.floor(viewSize / 2)));
              assert.ok(!s.message.entries.slice(1).some((d) => d.address === A || d.address === s.to));
              assert.ok(encodePexMessage(s.message).length <= mtu, 'message over the MTU');
              if (s.message.type === 'PexPush') lastId = s.message.id;
            }
            const view = c.viewEntries();
            assert.ok(view.length <= viewSize);
            assert.equal(new Set(view.map((d) => d.address)).size, view.length);
            assert.ok(view.every((d) => d.address !== A && d.age >= 0 && d.age <= DEFAULT_LIMITS.maxAge));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
