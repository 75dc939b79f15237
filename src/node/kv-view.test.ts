import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalState } from '../membership/driver/options.js';
import type { Member, MembershipEvent, MembershipEventType, StateValue } from '../membership/types.js';
import { type MembershipSource, membershipKvView } from './kv-view.js';

/** A membership whose members, local state and events the test sets by hand. */
class FakeSource implements MembershipSource {
  list: Member[] = [];
  readonly values = new Map<string, StateValue>();
  readonly writes: string[] = [];
  private readonly handlers = new Map<string, Set<(e: MembershipEvent) => void>>();
  readonly local: LocalState = {
    set: (key, value) => {
      this.writes.push(`set ${key}`);
      this.values.set(key, value);
    },
    delete: (key) => {
      this.writes.push(`delete ${key}`);
      this.values.delete(key);
    },
    get: (key) => this.values.get(key),
  };

  members(): Member[] {
    return this.list;
  }

  on<T extends MembershipEventType>(
    type: T,
    handler: (event: Extract<MembershipEvent, { type: T }>) => void,
  ): () => void {
    const set = this.handlers.get(type) ?? new Set();
    set.add(handler as (e: MembershipEvent) => void);
    this.handlers.set(type, set);
    return () => set.delete(handler as (e: MembershipEvent) => void);
  }

  emit(event: MembershipEvent): void {
    for (const h of this.handlers.get(event.type) ?? []) h(event);
  }

  handlerCount(): number {
    return [...this.handlers.values()].reduce((n, s) => n + s.size, 0);
  }
}

function member(name: string, over: Partial<Member> = {}): Member {
  return {
    id: `id-${name}`,
    name,
    address: `127.0.0.1:${1000 + name.length}`,
    state: 'alive',
    incarnation: 0,
    generation: 1,
    metadata: {},
    local: false,
    stateSinceMs: 0,
    ...over,
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('membershipKvView', () => {
  it('lists members by name with their state and state values', () => {
    const source = new FakeSource();
    source.list = [member('a', { metadata: { 'kv.0': 'x' } }), member('b', { state: 'suspect' })];
    const view = membershipKvView(source);
    const members = view.members();
    assert.deepEqual(
      members.map((m) => [m.name, m.state, m.address]),
      [
        ['a', 'alive', '127.0.0.1:1001'],
        ['b', 'suspect', '127.0.0.1:1001'],
      ],
    );
    assert.equal(members[0]!.lookup('kv.0'), 'x');
    assert.equal(members[0]!.lookup('kv.1'), undefined);
  });

  it('a name held by several members is spoken for by the live one, then the latest', () => {
    const source = new FakeSource();
    source.list = [
      member('a', { id: 'old', state: 'dead', stateSinceMs: 50, metadata: { 'kv.0': 'old' } }),
      member('a', { id: 'new', state: 'alive', stateSinceMs: 10, metadata: { 'kv.0': 'new' } }),
      member('b', { id: 'b1', state: 'left', stateSinceMs: 5, metadata: { 'kv.0': 'b1' } }),
      member('b', { id: 'b2', state: 'left', stateSinceMs: 9, metadata: { 'kv.0': 'b2' } }),
    ];
    const byName = new Map(
      membershipKvView(source)
        .members()
        .map((m) => [m.name, m]),
    );
    assert.equal(byName.size, 2);
    assert.equal(byName.get('a')!.lookup('kv.0'), 'new');
    assert.equal(byName.get('a')!.state, 'alive');
    assert.equal(byName.get('b')!.lookup('kv.0'), 'b2');
  });

  it('publish replaces the kv.* keys: sets changed ones, deletes stale ones, leaves other keys alone', () => {
    const source = new FakeSource();
    source.values.set('store', 'keep');
    // A key left by an earlier advert (the view did not publish it in this run).
    source.values.set('kv.7', 'stale');
    source.list = [member('self', { local: true, metadata: { store: 'keep', 'kv.7': 'stale' } })];
    const view = membershipKvView(source);
    view.publish(
      new Map<string, StateValue>([
        ['kv.0', new Uint8Array([1, 2])],
        ['kv.1', 'b'],
      ]),
    );
    assert.deepEqual(source.writes.sort(), ['delete kv.7', 'set kv.0', 'set kv.1']);
    source.writes.length = 0;
    source.list = [
      member('self', {
        local: true,
        metadata: { store: 'keep', 'kv.0': new Uint8Array([1, 2]), 'kv.1': 'b' },
      }),
    ];
    // The same bytes again: nothing is set (each set is a new gossiped version).
    view.publish(new Map<string, StateValue>([['kv.0', new Uint8Array([1, 2])]]));
    assert.deepEqual(source.writes, ['delete kv.1']);
    source.writes.length = 0;
    view.publish(new Map());
    assert.deepEqual(source.writes, ['delete kv.0']);
    assert.equal(source.values.get('store'), 'keep');
  });

  it('coalesces change events into one call per turn, ignores other keys, and stops on close', async () => {
    const source = new FakeSource();
    const view = membershipKvView(source);
    let calls = 0;
    view.onChange(() => {
      calls++;
      // A listener may publish: that does not call it back re-entrantly.
      view.publish(new Map([['kv.0', 'x']]));
    });
    source.emit({ type: 'alive', member: member('a') });
    source.emit({ type: 'dead', member: member('b') });
    source.emit({ type: 'update', node: 'id-a', key: 'kv.0', value: 'v', version: 1 });
    assert.equal(calls, 0, 'listeners run after the event handlers, not inside them');
    await tick();
    assert.equal(calls, 1, "one call for three events; the listener's own publish calls nobody back");
    assert.equal(source.values.get('kv.0'), 'x');
    source.emit({ type: 'update', node: 'id-a', key: 'store', value: 'v', version: 2 });
    await tick();
    assert.equal(calls, 1, 'keys outside kv.* do not concern the ring');
    source.emit({ type: 'suspect', member: member('a') });
    await tick();
    assert.equal(calls, 2);
    view.close();
    assert.equal(source.handlerCount(), 0);
    source.emit({ type: 'join', member: member('c') });
    await tick();
    assert.equal(calls, 2);
  });
});
