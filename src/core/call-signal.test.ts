import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { CallSignal } from './call-signal.js';
import { sleep } from './clock.js';
import { isCairnError } from './errors.js';
import { ManualClock } from './manual-clock.js';

test('a call signal starts unaborted and throwIfAborted passes', () => {
  const s = new CallSignal();
  assert.equal(s.signal.aborted, false);
  assert.equal(s.signal.reason, undefined);
  s.signal.throwIfAborted();
});

test('abort sets aborted and reason, then calls onabort and each listener once', () => {
  const s = new CallSignal();
  const calls: string[] = [];
  s.signal.onabort = () => calls.push('onabort');
  s.signal.addEventListener('abort', () => calls.push('once'), { once: true });
  s.signal.addEventListener('abort', () => calls.push('always'));
  s.abort('why');
  s.abort('again');
  assert.equal(s.signal.aborted, true);
  assert.equal(s.signal.reason, 'why');
  assert.deepEqual(calls, ['onabort', 'once', 'always']);
  assert.throws(
    () => s.signal.throwIfAborted(),
    (e: unknown) => e === 'why',
  );
});

test('abort without a reason gives an AbortError', () => {
  const s = new CallSignal();
  s.abort();
  assert.ok(s.signal.reason instanceof DOMException);
  assert.equal((s.signal.reason as DOMException).name, 'AbortError');
});

test('a removed listener is not called', () => {
  const s = new CallSignal();
  let called = false;
  const f = () => {
    called = true;
  };
  s.signal.addEventListener('abort', f, { once: true });
  s.signal.removeEventListener('abort', f);
  s.abort();
  assert.equal(called, false);
});

test("core's sleep and Node's events.once accept it and are cancelled by it", async () => {
  const clock = new ManualClock(0);
  const s = new CallSignal();
  const slept = sleep(clock, 1000, s.signal);
  const waited = once(new EventTarget(), 'never', { signal: s.signal });
  s.abort();
  await assert.rejects(slept, (e: unknown) => isCairnError(e, 'CANCELLED'));
  await assert.rejects(waited, (e: unknown) => (e as Error).name === 'AbortError');
});

test('a listener is added once and a handleEvent object is called', () => {
  const s = new CallSignal();
  const calls: string[] = [];
  const f = () => calls.push('f');
  s.signal.addEventListener('abort', f);
  s.signal.addEventListener('abort', f);
  s.signal.addEventListener('abort', { handleEvent: (e: Event) => calls.push(`object ${e.type}`) });
  s.abort();
  assert.deepEqual(calls, ['f', 'object abort']);
});

test('a listener removed by an earlier one is not called', () => {
  const s = new CallSignal();
  let called = false;
  const second = () => {
    called = true;
  };
  s.signal.addEventListener('abort', () => s.signal.removeEventListener('abort', second));
  s.signal.addEventListener('abort', second);
  s.abort();
  assert.equal(called, false);
});
