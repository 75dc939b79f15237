/**
 * The rpc channel on the simulated network: a scripted scenario (deadlines across skewed clocks,
 * cancellation, partitions, crash and restart, replay by seed) and a seeded swarm with random
 * faults that checks after every event that answers match their requests and that only expected
 * error codes occur, then heals and requires calls to succeed again.
 *
 * Run: node --import tsx --test test/sim/rpc-sim.test.ts
 * Replay one swarm seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/rpc-sim.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, type Clock, isCairnError, type Rng, sleep, v } from '../../src/core/index.js';
import { defineMethod, type HandlerContext, RpcClient, RpcServer } from '../../src/rpc/index.js';
import { runSwarm, type SimNodeContext, Simulator } from '../../src/sim/index.js';

const Add = defineMethod(
  'add',
  v.object({ a: v.int(), b: v.int(), id: v.uint() }),
  v.object({ sum: v.int(), id: v.uint() }),
);
/** Sleeps `ms` on the server's clock, or until its signal aborts. */
const Nap = defineMethod('nap', v.object({ ms: v.uint() }), v.object({ slept: v.uint() }));

/** The outcome of a call, recorded without awaiting it (the simulator drives time). */
interface Outcome<T> {
  done: boolean;
  value?: T;
  code?: string;
}

function watch<T>(promise: Promise<T>): Outcome<T> {
  const o: Outcome<T> = { done: false };
  promise.then(
    (value) => {
      o.done = true;
      o.value = value;
    },
    (err: unknown) => {
      o.done = true;
      o.code = isCairnError(err) ? err.code : `non-Cairn: ${String(err)}`;
    },
  );
  return o;
}

/** A node with an RpcServer (add, nap) and an RpcClient on one simulated transport. */
interface RpcNode {
  server: RpcServer;
  client: RpcClient;
  clock: Clock;
  rng: Rng;
  /** Handler contexts of `nap`, in arrival order. */
  naps: HandlerContext[];
  stop(): Promise<void>;
}

function rpcNode(ctx: SimNodeContext): RpcNode {
  const transport = ctx.transport();
  const server = new RpcServer({ clock: ctx.clock });
  const naps: HandlerContext[] = [];
  server.handle(Add, ({ a, b, id }) => ({ sum: a + b, id }));
  server.handle(Nap, async ({ ms }, hctx) => {
    naps.push(hctx);
    await sleep(ctx.clock, ms, hctx.signal);
    return { slept: ms };
  });
  server.listen(transport);
  const client = new RpcClient(transport, {
    clock: ctx.clock,
    rng: ctx.rng.child('rpc-client'),
    methods: server,
    dialTimeoutMs: 1_000,
    poolLimits: { backoffMaxMs: 2_000 },
  });
  return {
    server,
    client,
    clock: ctx.clock,
    rng: ctx.rng,
    naps,
    async stop() {
      await client.close();
      server.close();
    },
  };
}

async function scripted(seed: number): Promise<{ log: string[]; trace: string }> {
  const sim = new Simulator({ seed, network: { latency: { kind: 'uniform', minMs: 1, maxMs: 5 } } });
  const server = sim.addNode('server', rpcNode, { skew: { offsetMs: 3_600_000, drift: 0.001 } });
  sim.addNode('client', rpcNode);
  const node = (name: string) => sim.handle<RpcNode>(name)!;
  const c = () => node('client').client;
  const log: string[] = [];
  const until = async (o: Outcome<unknown>, maxMs = 60_000) => {
    assert.ok(await sim.runUntil(() => o.done, { maxMs }), 'the call did not settle');
  };

  // 1. Plain calls, many at once.
  const sums = Array.from({ length: 50 }, (_, id) => watch(c().call(server, Add, { a: id, b: 1000, id })));
  assert.ok(await sim.runUntil(() => sums.every((o) => o.done)));
  for (const [id, o] of sums.entries()) assert.deepEqual(o.value, { sum: id + 1000, id });
  log.push(`sums ok t=${sim.elapsedMs}`);

  // 2. Deadline: the budget is relative, so the server's skewed clock (one hour ahead) does not matter.
  const late = watch(c().call(server, Nap, { ms: 5_000 }, { deadlineMs: 300 }));
  assert.ok(await sim.runUntil(() => node('server').naps.length === 1));
  const nap = node('server').naps[0]!;
  const serverNow = node('server').clock.now();
  assert.ok(nap.deadline !== undefined && nap.deadline > serverNow && nap.deadline <= serverNow + 300);
  await until(late);
  assert.equal(late.code, 'RPC_DEADLINE_EXCEEDED');
  assert.ok(await sim.runUntil(() => nap.signal.aborted, { maxMs: 1_000 }));
  log.push(`deadline ok t=${sim.elapsedMs} reason=${(nap.signal.reason as CairnError).code}`);

  // 3. Cancellation reaches the handler.
  const controller = new AbortController();
  const cancelled = watch(c().call(server, Nap, { ms: 5_000 }, { signal: controller.signal }));
  assert.ok(await sim.runUntil(() => node('server').naps.length === 2));
  controller.abort();
  await until(cancelled);
  assert.equal(cancelled.code, 'RPC_CANCELLED');
  const napped = node('server').naps[1]!;
  assert.ok(await sim.runUntil(() => napped.signal.aborted, { maxMs: 1_000 }));
  assert.equal((napped.signal.reason as CairnError).code, 'RPC_CANCELLED');
  log.push(`cancel ok t=${sim.elapsedMs}`);

  // 4. A partition that resets streams (a rejecting firewall) breaks the stream: pending calls fail
  // with RPC_CONNECTION_LOST; after healing, the next call dials again.
  const cut = watch(c().call(server, Nap, { ms: 5_000 }, { deadlineMs: 20_000 }));
  assert.ok(await sim.runUntil(() => node('server').naps.length === 3));
  sim.network.partition(['client'], ['server'], { streams: 'reset' });
  await until(cut);
  assert.equal(cut.code, 'RPC_CONNECTION_LOST');
  assert.ok(await sim.runUntil(() => node('server').naps[2]!.signal.aborted, { maxMs: 1_000 }));
  sim.network.heal();
  const after = watch(c().call(server, Add, { a: 1, b: 2, id: 7 }));
  await until(after);
  assert.deepEqual(after.value, { sum: 3, id: 7 });
  log.push(`partition ok t=${sim.elapsedMs}`);

  // 5. A crash loses the pending call; while the server is down calls fail fast; after the restart
  // (and the client's redial backoff) calls succeed again.
  const crashed = watch(c().call(server, Nap, { ms: 5_000 }, { deadlineMs: 20_000 }));
  assert.ok(await sim.runUntil(() => node('server').naps.length === 4));
  sim.crash('server');
  await until(crashed);
  assert.equal(crashed.code, 'RPC_CONNECTION_LOST');
  const down = watch(c().call(server, Add, { a: 0, b: 0, id: 1 }, { deadlineMs: 500 }));
  await until(down);
  assert.equal(down.code, 'TRANSPORT_UNREACHABLE');
  sim.restart('server');
  let back: Outcome<{ sum: number; id: number }> | undefined;
  for (let attempt = 0; attempt < 20 && back?.value === undefined; attempt++) {
    back = watch(c().call(server, Add, { a: 20, b: 22, id: attempt }, { deadlineMs: 1_000 }));
    await until(back);
    if (back.value === undefined) await sim.runFor(500);
  }
  assert.equal(back?.value?.sum, 42);
  log.push(`restart ok t=${sim.elapsedMs}`);
  return { log, trace: sim.traceHash() };
}

describe('rpc on the simulated network', () => {
  it('scripted: calls, deadlines across skewed clocks, cancel, partition, crash and restart', async (t) => {
    const seed = 7;
    t.diagnostic(`seed=${seed}`);
    const first = await scripted(seed);
    const again = await scripted(seed);
    assert.deepEqual(again.log, first.log);
    assert.equal(again.trace, first.trace, 'the same seed must replay the same run');
  });

  it('swarm: answers always match their requests, errors are expected ones, calls recover after healing', async (t) => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    const books: CallBook[] = [];
    let healedAt = Number.POSITIVE_INFINITY;
    const result = await runSwarm({
      name: 'rpc',
      count: process.env.CAIRN_LONG ? 50 : 4,
      quiet: true,
      faults: { crashes: true, maxCrashed: 1 },
      safetyMs: 4_000,
      checkEvery: 5,
      livenessMs: 20_000,
      setup: ({ sim }) => {
        const book = new CallBook();
        books.push(book);
        healedAt = Number.POSITIVE_INFINITY;
        for (const name of names) {
          sim.addNode(name, (ctx) => {
            const node = rpcNode(ctx);
            let next = 0;
            let stopped = false;
            const tick = () => {
              if (stopped) return;
              ctx.clock.setTimer(50, tick);
              const peer = sim.addressOf(node.rng.pick(names.filter((n) => n !== name)));
              const a = node.rng.int(1_000_000);
              const b = node.rng.int(1_000_000);
              const id = next++;
              const outcome = watch(node.client.call(peer, Add, { a, b, id }, { deadlineMs: 200 }));
              book.add({ from: name, startedAt: sim.now, outcome, expected: a + b, id });
            };
            ctx.clock.setTimer(node.rng.int(50), tick);
            return {
              ...node,
              async stop() {
                stopped = true;
                await node.stop();
              },
            };
          });
        }
        return book;
      },
      checkers: [(book) => book.check()],
      converged: (book, { sim }) => {
        if (healedAt === Number.POSITIVE_INFINITY) healedAt = sim.now;
        const violation = book.check();
        if (violation !== undefined) throw new CairnError('SIM_CHECK_FAILED', violation);
        // Calls started 2.5 s after healing (past the redial backoff) must succeed for every node.
        return names.every((n) => book.successesSince(n, healedAt + 2_500) >= 5);
      },
      replayCommand: (seed) => `CAIRN_SEED=${seed} node --import tsx --test test/sim/rpc-sim.test.ts`,
    });
    assert.ok(result.ok);
    assert.ok(result.runs.every((r) => r.ok));
    const codes = new Map<string, number>();
    for (const book of books) for (const [code, n] of book.codes) codes.set(code, (codes.get(code) ?? 0) + n);
    for (const run of result.runs)
      t.diagnostic(`seed=${run.seed} events=${run.events} trace=${run.traceHash}`);
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(codes))}`);
    // The faults did reach the calls: some succeeded and some failed in the expected ways.
    assert.ok((codes.get('ok') ?? 0) > 0);
    assert.ok((codes.get('RPC_DEADLINE_EXCEEDED') ?? 0) + (codes.get('RPC_CONNECTION_LOST') ?? 0) > 0);
  });
});

interface CallRecord {
  readonly from: string;
  readonly startedAt: number;
  readonly outcome: Outcome<{ sum: number; id: number }>;
  readonly expected: number;
  readonly id: number;
}

/** Error codes a call may end with under network faults; anything else is a bug. */
const EXPECTED_CODES = new Set([
  'RPC_DEADLINE_EXCEEDED',
  'RPC_CONNECTION_LOST',
  'TRANSPORT_UNREACHABLE',
  'TIMEOUT',
  'RPC_OVERLOADED',
]);

/** The swarm's calls: checks each once when it settles, and counts successes per node. */
class CallBook {
  private pending: CallRecord[] = [];
  private readonly successes = new Map<string, number[]>();
  /** Settled calls by outcome (`ok` or the error code). */
  readonly codes = new Map<string, number>();

  add(call: CallRecord): void {
    this.pending.push(call);
  }

  /** Checks the calls settled since the last check; returns the first violation. */
  check(): string | undefined {
    const still: CallRecord[] = [];
    let violation: string | undefined;
    for (const call of this.pending) {
      const { outcome } = call;
      if (!outcome.done) {
        still.push(call);
        continue;
      }
      const code = outcome.code ?? 'ok';
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      if (outcome.value !== undefined) {
        if (outcome.value.id !== call.id || outcome.value.sum !== call.expected) {
          violation ??= `${call.from} call ${call.id} got ${JSON.stringify(outcome.value)}, expected sum ${call.expected}`;
        }
        const list = this.successes.get(call.from) ?? [];
        list.push(call.startedAt);
        this.successes.set(call.from, list);
      } else if (!EXPECTED_CODES.has(outcome.code ?? '')) {
        violation ??= `${call.from} call ${call.id} failed with unexpected ${outcome.code}`;
      }
    }
    this.pending = still;
    return violation;
  }

  successesSince(node: string, t: number): number {
    return (this.successes.get(node) ?? []).filter((at) => at >= t).length;
  }
}
