import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../../src/core/index.js';
import { addPingNodes, type PingNode, runPingSim, runSwarm, type SwarmOptions } from '../../src/sim/index.js';

const REPLAY = (seed: unknown) => `CAIRN_SEED=${String(seed)} node --import tsx --test test/sim/ping.test.ts`;

describe('runPingSim', () => {
  it('is deterministic: the same seed gives the same trace hash and counters', async () => {
    const a = await runPingSim({ nodes: 50, seed: 42, loss: 0.1, durationMs: 5_000 });
    const b = await runPingSim({ nodes: 50, seed: '42', loss: 0.1, durationMs: 5_000 });
    assert.equal(a.trace_hash, b.trace_hash);
    assert.equal(a.messages_sent, b.messages_sent);
    assert.equal(a.messages_delivered, b.messages_delivered);
    assert.equal(a.acks, b.acks);
    assert.equal(a.virtual_ms, 5_000);
    assert.equal(a.pings, 250);
    assert.ok(a.acks < a.pings, 'with 10% loss some pings go unanswered');
    assert.ok(a.messages_delivered + a.messages_dropped === a.messages_sent);
  });

  it('another seed gives another trace hash', async () => {
    const a = await runPingSim({ nodes: 50, seed: 1, durationMs: 3_000 });
    const b = await runPingSim({ nodes: 50, seed: 2, durationMs: 3_000 });
    assert.notEqual(a.trace_hash, b.trace_hash);
  });

  it('rejects nonsense options', async () => {
    await assert.rejects(runPingSim({ nodes: 0, seed: 1 }), (e) => isCairnError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(runPingSim({ nodes: 2, seed: 1, loss: 2 }), (e) =>
      isCairnError(e, 'INVALID_CONFIG'),
    );
  });
});

/** A ping cluster scenario: safety "acks never exceed pings", liveness "every node gets an ack after healing". */
function pingScenario(extra: Partial<SwarmOptions<string[]>> = {}): SwarmOptions<string[]> {
  return {
    name: 'ping',
    count: 4,
    quiet: true,
    safetyMs: 5_000,
    livenessMs: 10_000,
    faults: { crashes: true },
    simulator: { settle: false },
    setup: ({ sim }) => addPingNodes(sim, { nodes: 6, intervalMs: 200 }),
    checkers: [
      (names, { sim }) => {
        for (const n of names) {
          const node = sim.handle<PingNode>(n);
          if (node !== undefined && node.acksReceived > node.pingsSent)
            return `${n} got more acks than it sent pings`;
        }
        return undefined;
      },
    ],
    // Every node (restarted ones included) has had a ping answered since the heal.
    converged: (names, { sim, healedAt }) =>
      names.every((n) => (sim.handle<PingNode>(n)?.lastAckAt ?? Number.NEGATIVE_INFINITY) > healedAt!),
    replayCommand: REPLAY,
    ...extra,
  };
}

describe('ping swarm', () => {
  it('passes safety and liveness over several seeds with faults', async () => {
    const result = await runSwarm(pingScenario());
    assert.equal(result.ok, true);
    assert.equal(result.runs.length, process.env.CAIRN_SEED === undefined ? 4 : 1);
  });

  it('a broken checker reports the failing seed and the command that replays it', async () => {
    const lines: string[] = [];
    const result = await runSwarm(
      pingScenario({
        seeds: [7, 8],
        log: (line) => lines.push(line),
        throwOnFailure: false,
        faults: { maxLoss: 0.3 },
        checkers: [
          (_names, { sim }) => (sim.network.stats.dropped.loss > 0 ? 'a packet was lost' : undefined),
        ],
      }),
    );
    assert.equal(result.ok, false);
    assert.equal(result.failure?.seed, 7);
    assert.equal(result.failure?.phase, 'safety');
    const output = lines.join('\n');
    assert.match(output, /seed=7/);
    assert.ok(output.includes(REPLAY(7)), output);
    assert.match(output, /a packet was lost/);
    assert.equal(result.runs.length, 1, 'the swarm stops at the first failure');
  });

  it('throws SIM_CHECK_FAILED by default, with the seed in the message', async () => {
    await assert.rejects(
      runSwarm(
        pingScenario({
          seeds: ['x'],
          log: () => undefined,
          converged: () => false,
          livenessMs: 1_000,
        }),
      ),
      (e) =>
        isCairnError(e, 'SIM_CHECK_FAILED') && /seed=x/.test(e.message) && e.message.includes(REPLAY('x')),
    );
  });
});
