/**
 * The StoreClient contract suite: one set of tests every {@link StoreClient} passes — the
 * in-memory testing store, EtcdClientStore against a real etcd, EtcdClientStore against Cairn's
 * etcd gRPC server, and the embedded StoreServer. Passing it against a real etcd and against
 * Cairn is the evidence that Cairn's API matches etcd's.
 *
 * Implementation-neutral: tests share one store, so each works under its own key prefix and
 * reasons about revisions relative to the ones it observes. No sleeps: waits are for watch
 * responses, bounded by a deadline. Lease expiry either advances the env's clock or, for a real
 * etcd, waits for the expiry's delete event.
 *
 * @example
 * ```ts
 * describeStoreClientContract('testing store', async () => {
 *   const clock = new ManualClock();
 *   const store = new TestingStore({ clock });
 *   return { client: store, advanceMs: async (ms) => clock.advance(ms), cleanup: () => store.close() };
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StoreClient, WatchResponse } from '../../src/store/api.js';
import { isStoreError } from '../../src/store/errors.js';

/** What the suite runs against. */
export interface StoreClientEnv {
  readonly client: StoreClient;
  /** Moves the store's clock forward (fake clocks); absent: real time, the suite waits. */
  readonly advanceMs?: (ms: number) => Promise<void>;
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);
const s = (u: Uint8Array) => dec.decode(u);
/** Longest a test waits for a watch response (the real etcd's lease expiry takes a few seconds). */
const WAIT_MS = 15_000;

let run = 0;
/** A key prefix no other test (or earlier run against the same etcd) uses. */
function prefix(name: string): string {
  run++;
  return `/contract/${process.pid}-${Date.now()}-${run}/${name}/`;
}

/** The range end of "every key under `p`". */
function prefixEnd(p: string): Uint8Array {
  const e = b(p);
  e[e.length - 1]!++;
  return e;
}

async function rejectsWith(p: Promise<unknown>, name: Parameters<typeof isStoreError>[1]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStoreError(err, name), `expected StoreError ${String(name)}, got ${String(err)}`);
    return true;
  });
}

/** Collects watch responses; `next(pred)` waits for the first one matching. */
class Inbox {
  readonly all: WatchResponse[] = [];
  private waiters: { pred: (r: WatchResponse) => boolean; resolve: (r: WatchResponse) => void }[] = [];
  private seen = 0;
  readonly push = (r: WatchResponse): void => {
    this.all.push(r);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(r)) return true;
      w.resolve(r);
      return false;
    });
  };
  /** The next response (after those already taken) matching `pred`. */
  next(pred: (r: WatchResponse) => boolean = () => true, what = 'a watch response'): Promise<WatchResponse> {
    for (let i = this.seen; i < this.all.length; i++) {
      if (pred(this.all[i]!)) {
        this.seen = i + 1;
        return Promise.resolve(this.all[i]!);
      }
    }
    this.seen = this.all.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
      this.waiters.push({
        pred,
        resolve: (r) => {
          clearTimeout(timer);
          this.seen = this.all.indexOf(r) + 1;
          resolve(r);
        },
      });
    });
  }
}

const hasEvents = (r: WatchResponse) => r.events.length > 0;

/** Registers the suite under `name`; `setup` runs once before it. */
export function describeStoreClientContract(
  name: string,
  setup: () => Promise<StoreClientEnv | undefined>,
): void {
  describe(`StoreClient contract: ${name}`, () => {
    let env: StoreClientEnv | undefined;
    let c: StoreClient;
    before(async () => {
      env = await setup();
      if (env !== undefined) c = env.client;
    });
    after(async () => env?.cleanup());
    const test = (title: string, fn: () => Promise<void>) =>
      it(title, async (t) => {
        if (env === undefined) {
          t.skip('environment unavailable');
          return;
        }
        await fn();
      });

    test('put then range: revisions and versions as etcd counts them', async () => {
      const p = prefix('put');
      const first = await c.put({ key: b(`${p}k`), value: b('v1') });
      const r1 = await c.range({ key: b(`${p}k`) });
      assert.equal(r1.count, 1);
      const kv = r1.kvs[0]!;
      assert.equal(s(kv.value), 'v1');
      assert.equal(kv.version, 1);
      assert.equal(kv.createRevision, first.header.revision);
      assert.equal(kv.modRevision, first.header.revision);
      assert.equal(kv.lease, 0);
      const second = await c.put({ key: b(`${p}k`), value: b('v2'), prevKv: true });
      assert.equal(second.header.revision, first.header.revision + 1);
      assert.equal(s(second.prevKv!.value), 'v1');
      const r2 = await c.range({ key: b(`${p}k`) });
      assert.equal(r2.kvs[0]!.version, 2);
      assert.equal(r2.kvs[0]!.createRevision, first.header.revision);
      assert.equal(r2.kvs[0]!.modRevision, second.header.revision);
      const old = await c.range({ key: b(`${p}k`), revision: first.header.revision });
      assert.equal(s(old.kvs[0]!.value), 'v1');
      await rejectsWith(c.range({ key: b(`${p}k`), revision: second.header.revision + 1000 }), 'futureRev');
    });

    test('range over a prefix: limit, more, count, sort, keys-only, count-only', async () => {
      const p = prefix('range');
      for (const k of ['a', 'b', 'c', 'd']) await c.put({ key: b(`${p}${k}`), value: b(`value-${k}`) });
      const end = prefixEnd(p);
      const all = await c.range({ key: b(p), rangeEnd: end });
      assert.deepEqual(
        all.kvs.map((kv) => s(kv.key)),
        ['a', 'b', 'c', 'd'].map((k) => p + k),
      );
      const limited = await c.range({ key: b(p), rangeEnd: end, limit: 2 });
      assert.equal(limited.kvs.length, 2);
      assert.equal(limited.more, true);
      assert.equal(limited.count, 4);
      const desc = await c.range({
        key: b(p),
        rangeEnd: end,
        sortOrder: 'descend',
        sortTarget: 'key',
        limit: 1,
      });
      assert.equal(s(desc.kvs[0]!.key), `${p}d`);
      const keys = await c.range({ key: b(p), rangeEnd: end, keysOnly: true });
      assert.equal(keys.kvs.length, 4);
      assert.ok(keys.kvs.every((kv) => kv.value.length === 0));
      const count = await c.range({ key: b(p), rangeEnd: end, countOnly: true });
      assert.equal(count.count, 4);
      assert.equal(count.kvs.length, 0);
      const from = await c.range({ key: b(`${p}c`), rangeEnd: Uint8Array.of(0) });
      assert.ok(from.kvs.length >= 2);
      assert.equal(s(from.kvs[0]!.key), `${p}c`);
    });

    test('delete range: prev kvs, count, and no revision for deleting nothing', async () => {
      const p = prefix('del');
      await c.put({ key: b(`${p}x`), value: b('1') });
      await c.put({ key: b(`${p}y`), value: b('2') });
      await c.put({ key: b(`${p}z`), value: b('3') });
      const one = await c.deleteRange({ key: b(`${p}z`) });
      assert.equal(one.deleted, 1, 'a delete without a range end deletes the one key');
      const del = await c.deleteRange({ key: b(p), rangeEnd: prefixEnd(p), prevKv: true });
      assert.equal(del.deleted, 2);
      assert.deepEqual(del.prevKvs.map((kv) => s(kv.value)).sort(), ['1', '2']);
      assert.equal((await c.range({ key: b(p), rangeEnd: prefixEnd(p) })).count, 0);
      const none = await c.deleteRange({ key: b(`${p}x`) });
      assert.equal(none.deleted, 0);
      assert.equal(none.header.revision, del.header.revision);
    });

    test('txn: compares choose the branch; all writes share one revision; nested txn', async () => {
      const p = prefix('txn');
      const put = await c.put({ key: b(`${p}k`), value: b('1') });
      const ok = await c.txn({
        compare: [
          { key: b(`${p}k`), target: 'value', result: 'equal', value: b('1') },
          { key: b(`${p}k`), target: 'version', result: 'equal', value: 1 },
          { key: b(`${p}k`), target: 'mod', result: 'equal', value: put.header.revision },
          { key: b(`${p}missing`), target: 'create', result: 'equal', value: 0 },
        ],
        success: [
          { put: { key: b(`${p}k`), value: b('2') } },
          { put: { key: b(`${p}other`), value: b('o') } },
          { range: { key: b(`${p}k`) } },
          { txn: { compare: [], success: [{ range: { key: b(`${p}other`) } }], failure: [] } },
        ],
        failure: [],
      });
      assert.equal(ok.succeeded, true);
      assert.equal(ok.header.revision, put.header.revision + 1);
      const read = ok.responses[2]!;
      assert.ok('range' in read);
      assert.equal(s(read.range.kvs[0]!.value), '2');
      const nested = ok.responses[3]!;
      assert.ok('txn' in nested);
      const inner = nested.txn.responses[0]!;
      assert.ok('range' in inner);
      assert.equal(s(inner.range.kvs[0]!.value), 'o');
      const other = await c.range({ key: b(`${p}other`) });
      assert.equal(other.kvs[0]!.modRevision, ok.header.revision);
      const no = await c.txn({
        compare: [{ key: b(`${p}k`), target: 'value', result: 'equal', value: b('1') }],
        success: [{ put: { key: b(`${p}k`), value: b('never') } }],
        failure: [{ range: { key: b(`${p}k`) } }],
      });
      assert.equal(no.succeeded, false);
      const r = no.responses[0]!;
      assert.ok('range' in r);
      assert.equal(s(r.range.kvs[0]!.value), '2');
      assert.equal(no.header.revision, ok.header.revision);
    });

    test("etcd's argument errors: empty key, duplicate txn key, ignore_value on a missing key", async () => {
      const p = prefix('errors');
      await rejectsWith(c.put({ key: new Uint8Array(0), value: b('x') }), 'emptyKey');
      await rejectsWith(c.range({ key: new Uint8Array(0) }), 'emptyKey');
      await rejectsWith(
        c.txn({
          compare: [],
          success: [{ put: { key: b(`${p}k`), value: b('1') } }, { put: { key: b(`${p}k`), value: b('2') } }],
          failure: [],
        }),
        'duplicateKey',
      );
      await rejectsWith(
        c.put({ key: b(`${p}missing`), value: new Uint8Array(0), ignoreValue: true }),
        'keyNotFound',
      );
      await rejectsWith(c.put({ key: b(`${p}k`), value: b('v'), lease: 0x7ead }), 'leaseNotFound');
    });

    test('compaction: older revisions answer compacted, later ones still read', async () => {
      const p = prefix('compact');
      const first = await c.put({ key: b(`${p}k`), value: b('1') });
      const second = await c.put({ key: b(`${p}k`), value: b('2') });
      await c.compact({ revision: second.header.revision, physical: true });
      await rejectsWith(c.range({ key: b(`${p}k`), revision: first.header.revision }), 'compacted');
      await rejectsWith(c.compact({ revision: first.header.revision }), 'compacted');
      const now = await c.range({ key: b(`${p}k`), revision: second.header.revision });
      assert.equal(s(now.kvs[0]!.value), '2');
      await rejectsWith(c.compact({ revision: second.header.revision + 100_000 }), 'futureRev');
    });

    test('watch: created first, events in order with prev kv, filters, cancel', async () => {
      const p = prefix('watch');
      const inbox = new Inbox();
      const w = await c.watch({ key: b(p), rangeEnd: prefixEnd(p), prevKv: true }, inbox.push);
      const created = await inbox.next(undefined, 'the created response');
      assert.equal(created.created, true);
      await c.put({ key: b(`${p}a`), value: b('1') });
      await c.put({ key: b(`${p}a`), value: b('2') });
      await c.deleteRange({ key: b(`${p}a`) });
      await c.put({ key: b('/outside-the-watch'), value: b('x') });
      const events = [];
      while (events.length < 3) events.push(...(await inbox.next(hasEvents, 'events')).events);
      assert.deepEqual(
        events.map((e) => [e.type, s(e.kv.value), e.prevKv === undefined ? '' : s(e.prevKv.value)]),
        [
          ['put', '1', ''],
          ['put', '2', '1'],
          ['delete', '', '2'],
        ],
      );
      assert.ok(events[1]!.kv.modRevision > events[0]!.kv.modRevision);
      await w.cancel();
      const seen = inbox.all.length;
      const late = await c.put({ key: b(`${p}a`), value: b('after cancel') });
      // A later watch on the same key proves the put was dispatched; the canceled one stays silent.
      const probe = new Inbox();
      const pw = await c.watch({ key: b(`${p}a`), startRevision: late.header.revision }, probe.push);
      await probe.next((r) => r.events.some((e) => s(e.kv.value) === 'after cancel'), 'the probe event');
      await pw.cancel();
      assert.ok(
        inbox.all.slice(seen).every((r) => r.events.length === 0),
        'no events after cancel',
      );

      const filtered = new Inbox();
      const fw = await c.watch({ key: b(`${p}f`), filters: ['noPut'] }, filtered.push);
      await filtered.next((r) => r.created === true);
      await c.put({ key: b(`${p}f`), value: b('1') });
      await c.deleteRange({ key: b(`${p}f`) });
      const only = await filtered.next(hasEvents, 'the delete event');
      assert.deepEqual(
        only.events.map((e) => e.type),
        ['delete'],
      );
      await fw.cancel();
    });

    test('watch from a past revision replays history; from a compacted one is canceled', async () => {
      const p = prefix('history');
      const first = await c.put({ key: b(`${p}k`), value: b('1') });
      await c.put({ key: b(`${p}k`), value: b('2') });
      const inbox = new Inbox();
      const w = await c.watch({ key: b(`${p}k`), startRevision: first.header.revision }, inbox.push);
      const got: string[] = [];
      while (got.length < 2)
        got.push(...(await inbox.next(hasEvents, 'replayed events')).events.map((e) => s(e.kv.value)));
      assert.deepEqual(got, ['1', '2']);
      await w.cancel();
      const third = await c.put({ key: b(`${p}k`), value: b('3') });
      await c.compact({ revision: third.header.revision });
      const old = new Inbox();
      await c.watch({ key: b(`${p}k`), startRevision: first.header.revision }, old.push);
      const canceled = await old.next((r) => r.canceled === true, 'the compacted response');
      assert.equal(canceled.compactRevision, third.header.revision);
    });

    test('leases: grant, attach, time-to-live with keys, list, keep-alive, revoke deletes keys', async () => {
      const p = prefix('lease');
      const grant = await c.leaseGrant(60);
      assert.ok(grant.id > 0 && grant.ttl >= 60);
      await c.put({ key: b(`${p}k`), value: b('v'), lease: grant.id });
      const r = await c.range({ key: b(`${p}k`) });
      assert.equal(r.kvs[0]!.lease, grant.id);
      const ttl = await c.leaseTimeToLive(grant.id, true);
      assert.equal(ttl.grantedTtl, grant.ttl);
      assert.ok(ttl.ttl > 0 && ttl.ttl <= grant.ttl);
      assert.deepEqual(ttl.keys.map(s), [`${p}k`]);
      assert.ok((await c.leaseLeases()).leases.includes(grant.id));
      const ka = await c.leaseKeepAlive(grant.id);
      assert.equal(ka.id, grant.id);
      assert.equal(ka.ttl, grant.ttl);
      const revoked = await c.leaseRevoke(grant.id);
      const after = await c.range({ key: b(`${p}k`) });
      assert.equal(after.count, 0, `key still there at revision ${after.header.revision}`);
      assert.ok(revoked.header.revision > r.header.revision);
      assert.equal((await c.leaseTimeToLive(grant.id)).ttl, -1);
      await rejectsWith(c.leaseRevoke(grant.id), 'leaseNotFound');
      assert.equal((await c.leaseKeepAlive(grant.id)).ttl, 0);
      const chosen = 0x7ea5e000 + (Date.now() % 0xfff);
      const mine = await c.leaseGrant(30, chosen);
      assert.equal(mine.id, chosen);
      await rejectsWith(c.leaseGrant(30, chosen), 'leaseExist');
      await c.leaseRevoke(chosen);
    });

    test('a lease that is not kept alive expires and takes its keys with it', async () => {
      const p = prefix('expiry');
      const grant = await c.leaseGrant(1);
      const inbox = new Inbox();
      const w = await c.watch({ key: b(`${p}k`) }, inbox.push);
      await c.put({ key: b(`${p}k`), value: b('v'), lease: grant.id });
      await inbox.next(hasEvents, 'the put');
      await env?.advanceMs?.(grant.ttl * 1000 + 1);
      const del = await inbox.next((r) => r.events.some((e) => e.type === 'delete'), 'the expiry delete');
      assert.equal(s(del.events[0]!.kv.key), `${p}k`);
      assert.equal((await c.leaseTimeToLive(grant.id)).ttl, -1);
      await w.cancel();
    });

    test('members: list, add a learner, promotion refused until it catches up, remove', async () => {
      const list = await c.memberList();
      assert.ok(list.members.length >= 1);
      assert.ok(list.members.some((m) => !m.isLearner && m.clientUrls.length > 0));
      const port = 40_000 + (process.pid % 20_000);
      const added = await c.memberAdd([`http://127.0.0.1:${port}`], true);
      assert.equal(added.member.isLearner, true);
      assert.ok(added.members.some((m) => m.id === added.member.id));
      await rejectsWith(c.memberPromote(added.member.id), 'learnerNotReady');
      // etcd derives member ids from the URLs and the second: a repeat is refused either way.
      await assert.rejects(
        c.memberAdd([`http://127.0.0.1:${port}`], true),
        (err: unknown) => isStoreError(err, 'peerURLExist') || isStoreError(err, 'memberExist'),
      );
      const removed = await c.memberRemove(added.member.id);
      assert.ok(!removed.members.some((m) => m.id === added.member.id));
      await rejectsWith(c.memberRemove(added.member.id), 'memberNotFound');
    });

    test('status: version, leader, raft indexes', async () => {
      const st = await c.status();
      assert.ok(st.version.length > 0);
      assert.ok(st.leader !== 0);
      assert.ok(st.raftIndex > 0);
      assert.ok(st.raftTerm > 0);
      assert.ok(st.header.revision > 0);
    });
  });
}
