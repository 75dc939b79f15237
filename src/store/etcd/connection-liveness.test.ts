import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/manual-clock.js';
import { ConnectionLiveness } from './connection-liveness.js';

/** A liveness over a fake connection that records what it was told and holds its pings' answers. */
function watched(limits = { idleMs: 1000, keepAliveIntervalMs: 10_000, keepAliveTimeoutMs: 500 }) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const at = () => clock.now() - t0;
  const events: string[] = [];
  const pending: ((ok: boolean) => void)[] = [];
  let canPing = true;
  const liveness = new ConnectionLiveness(limits, clock, {
    ping: (onAck) => {
      if (!canPing) return false;
      events.push(`ping@${at()}`);
      pending.push(onAck);
      return true;
    },
    closeIdle: () => events.push(`idle@${at()}`),
    closeDead: () => events.push(`dead@${at()}`),
  });
  const answer = (ok = true) => pending.shift()?.(ok);
  return { clock, events, liveness, answer, setCanPing: (v: boolean) => (canPing = v) };
}

describe('ConnectionLiveness', () => {
  it('closes a connection idle from the start after idleMs, once', () => {
    const { clock, events } = watched();
    clock.advance(999);
    assert.deepEqual(events, []);
    clock.advance(1);
    assert.deepEqual(events, ['idle@1000']);
    clock.advance(60_000);
    assert.deepEqual(events, ['idle@1000'], 'nothing after it closed: no ping either');
  });

  it('keeps a connection with a call open, and counts idleMs from when its last call closed', () => {
    const { clock, events, liveness } = watched();
    liveness.callOpened();
    liveness.callOpened();
    clock.advance(5000);
    liveness.callClosed();
    clock.advance(2000);
    assert.deepEqual(events, [], 'one call still open');
    assert.equal(liveness.calls, 1);
    liveness.callClosed(); // idle from 7000
    clock.advance(999);
    assert.deepEqual(events, []);
    clock.advance(1);
    assert.deepEqual(events, ['idle@8000']);
  });

  it('restarts the idle wait when a call comes and goes', () => {
    const { clock, events, liveness } = watched();
    clock.advance(900);
    liveness.callOpened();
    liveness.callClosed(); // idle from 900
    clock.advance(999);
    assert.deepEqual(events, []);
    clock.advance(1);
    assert.deepEqual(events, ['idle@1900']);
  });

  it('pings every interval while answered, and cuts the connection when a ping goes unanswered', () => {
    const { clock, events, liveness, answer } = watched();
    liveness.callOpened(); // a watch: never idle
    clock.advance(10_000);
    assert.deepEqual(events, ['ping@10000']);
    clock.advance(400);
    answer();
    clock.advance(200); // past the first ping's timeout: answered, so nothing
    assert.deepEqual(events, ['ping@10000']);
    clock.advance(9800); // the next ping, an interval after the answer
    assert.deepEqual(events, ['ping@10000', 'ping@20400']);
    clock.advance(499);
    assert.deepEqual(events, ['ping@10000', 'ping@20400']);
    clock.advance(1);
    assert.deepEqual(events, ['ping@10000', 'ping@20400', 'dead@20900']);
    answer(); // a late answer changes nothing
    clock.advance(60_000);
    assert.deepEqual(events, ['ping@10000', 'ping@20400', 'dead@20900']);
  });

  it('tries again next interval when no ping could be sent, and stops pinging when a ping fails', () => {
    const { clock, events, liveness, answer, setCanPing } = watched();
    liveness.callOpened();
    setCanPing(false);
    clock.advance(10_000);
    assert.deepEqual(events, []);
    setCanPing(true);
    clock.advance(10_000);
    assert.deepEqual(events, ['ping@20000']);
    answer(false); // the connection closed under the ping
    clock.advance(60_000);
    assert.deepEqual(events, ['ping@20000']);
  });

  it('runs nothing after dispose', () => {
    const { clock, events, liveness } = watched();
    liveness.dispose();
    clock.advance(60_000);
    assert.deepEqual(events, []);
  });
});
