import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HOST_MEASURED_FIELDS,
  type MembershipSimResult,
  pushPullScale,
  runMembershipSim,
} from './evaluate.js';

const HOST_FIELDS = new Set(HOST_MEASURED_FIELDS);

function replayable(r: MembershipSimResult): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !HOST_FIELDS.has(k)));
}

describe('runMembershipSim', () => {
  it('measures every phase, and the same seed replays every figure', async () => {
    const options = { nodes: 6, seed: 'eval-1', protocol: 'test' } as const;
    const a = await runMembershipSim(options);
    const b = await runMembershipSim(options);
    assert.equal(a.nodes, 6);
    assert.equal(a.scheme, 'ed25519');
    assert.ok(a.join_converged_ms !== null && a.join_converged_ms > 0, JSON.stringify(a));
    assert.ok(a.update_converged_ms !== null && a.update_converged_ms > 0);
    assert.ok(a.detect_converged_ms !== null && a.detect_converged_ms > 0);
    assert.equal(a.false_deaths, 0);
    assert.equal(a.join_failures, 0);
    assert.ok(a.bytes_per_node_per_s > 0 && a.packets_sent > 0);
    assert.deepEqual(replayable(a), replayable(b));
  });

  it('another seed gives another trace', async () => {
    const a = await runMembershipSim({ nodes: 4, seed: 1, protocol: 'test' });
    const b = await runMembershipSim({ nodes: 4, seed: 2, protocol: 'test' });
    assert.notEqual(a.trace_hash, b.trace_hash);
  });

  it('a single node converges at once and has nothing to detect', async () => {
    const r = await runMembershipSim({ nodes: 1, seed: 3, protocol: 'test' });
    assert.equal(r.join_converged_ms, 0);
    assert.equal(r.detect_converged_ms, null);
  });

  it('rejects a bad node count', async () => {
    await assert.rejects(runMembershipSim({ nodes: 0, seed: 1 }), /nodes must be a positive integer/);
  });

  it('scales push-pull like memberlist', () => {
    assert.equal(pushPullScale(32), 1);
    assert.equal(pushPullScale(64), 2);
    assert.equal(pushPullScale(1000), 6);
    assert.equal(pushPullScale(10_000), 10);
  });
});
