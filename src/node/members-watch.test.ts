import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Membership } from '../membership/driver/membership.js';
import { MEMBERS_WATCH_LIMITS, MembersWatch } from './members-watch.js';

/** A membership node reduced to its event subscription, with a way to fire events. */
function fakeMembership(): { m: Membership; fire: (type: string) => void } {
  const handlers = new Map<string, Array<() => void>>();
  const m = {
    on(type: string, handler: () => void) {
      handlers.set(type, [...(handlers.get(type) ?? []), handler]);
      return () => {};
    },
  } as unknown as Membership;
  const fire = (type: string) => {
    for (const handler of handlers.get(type) ?? []) handler();
  };
  return { m, fire };
}

describe('MembersWatch', () => {
  it('every membership event bumps the index and wakes the waiting reads', async () => {
    const watch = new MembersWatch();
    const { m, fire } = fakeMembership();
    const start = watch.index(m);
    const never = new AbortController().signal;
    for (const type of ['join', 'alive', 'suspect', 'dead', 'leave', 'update']) {
      const seen = watch.index(m);
      const waiting = watch.wait(m, seen, 60_000, never);
      fire(type);
      await waiting;
      assert.equal(watch.index(m), seen + 1, type);
    }
    assert.equal(watch.index(m), start + 6);
  });

  it(`refuses a read beyond maxWaiting (${MEMBERS_WATCH_LIMITS.maxWaiting}) with 429; close answers every waiting one`, async () => {
    const watch = new MembersWatch();
    const { m } = fakeMembership();
    const index = watch.index(m);
    const never = new AbortController().signal;
    const waiting = Array.from({ length: MEMBERS_WATCH_LIMITS.maxWaiting }, () => {
      const parsed = watch.parse({ index: String(index), wait: '60000' });
      assert.ok(parsed !== undefined && !('error' in parsed));
      return watch.wait(m, parsed.index, parsed.waitMs, never);
    });
    assert.deepEqual(watch.parse({ index: String(index) }), {
      status: 429,
      error: `${MEMBERS_WATCH_LIMITS.maxWaiting} requests are already waiting on this node (maxWaiting); retry later`,
    });
    watch.close();
    await Promise.all(waiting);
    await watch.wait(m, index, 60_000, never); // closed: answers at once
  });

  it('a client that goes away stops waiting; a wait over maxWaitMs is cut to it', async () => {
    const watch = new MembersWatch();
    const { m } = fakeMembership();
    const gone = new AbortController();
    const waiting = watch.wait(m, watch.index(m), 60_000, gone.signal);
    gone.abort();
    await waiting;
    const parsed = watch.parse({ index: '0', wait: '999999999' });
    assert.ok(parsed !== undefined && !('error' in parsed));
    assert.equal(parsed.waitMs, MEMBERS_WATCH_LIMITS.maxWaitMs);
    assert.equal(watch.parse({}), undefined, 'no index: not a blocking read');
  });
});
