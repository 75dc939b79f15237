import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../../core/index.js';
import {
  DEFAULT_SWIM_CONFIG,
  lanSwimConfig,
  localSwimConfig,
  testSwimConfig,
  validateSwimConfig,
  wanSwimConfig,
} from './config.js';

describe('SwimConfig presets', () => {
  it('carry memberlist values (config.go DefaultLANConfig/WANConfig/LocalConfig)', () => {
    // LAN: memberlist's intervals and fan-out with Cairn's suspicion rule (LAN_SUSPICION).
    const lan = lanSwimConfig();
    assert.deepEqual(
      [
        lan.probeIntervalMs,
        lan.probeTimeoutMs,
        lan.indirectChecks,
        lan.suspicionMult,
        lan.suspicionMaxTimeoutMult,
        lan.suspicionConfirmations,
      ],
      [1000, 500, 3, 2, 12, 3],
    );
    assert.deepEqual(
      [
        DEFAULT_SWIM_CONFIG.suspicionMult,
        DEFAULT_SWIM_CONFIG.suspicionMaxTimeoutMult,
        DEFAULT_SWIM_CONFIG.suspicionConfirmations,
      ],
      [4, 6, 2],
    );
    assert.deepEqual(
      [
        lan.retransmitMult,
        lan.gossipIntervalMs,
        lan.gossipNodes,
        lan.gossipToTheDeadMs,
        lan.awarenessMaxMultiplier,
      ],
      [4, 200, 3, 30_000, 8],
    );
    const wan = wanSwimConfig();
    assert.deepEqual(
      [
        wan.probeIntervalMs,
        wan.probeTimeoutMs,
        wan.suspicionMult,
        wan.suspicionMaxTimeoutMult,
        wan.suspicionConfirmations,
        wan.gossipIntervalMs,
        wan.gossipNodes,
        wan.gossipToTheDeadMs,
      ],
      [5000, 3000, 6, 6, 4, 500, 4, 60_000],
    );
    const local = localSwimConfig();
    assert.deepEqual(
      [
        local.probeIntervalMs,
        local.probeTimeoutMs,
        local.indirectChecks,
        local.retransmitMult,
        local.suspicionMult,
        local.suspicionConfirmations,
      ],
      [1000, 200, 1, 2, 3, 1],
    );
    assert.deepEqual([local.gossipIntervalMs, local.gossipToTheDeadMs], [100, 15_000]);
    for (const c of [lan, wan, local, testSwimConfig(), DEFAULT_SWIM_CONFIG]) validateSwimConfig(c);
    assert.equal(lanSwimConfig({ mtu: 1200 }).mtu, 1200);
  });

  it('names the bad field', () => {
    const cases: Array<[string, object]> = [
      ['probeTimeoutMs', { probeTimeoutMs: 1000 }],
      ['probeIntervalMs', { probeIntervalMs: 0 }],
      ['mtu', { mtu: 100 }],
      ['reapAfterMs', { reapAfterMs: 10 }],
      ['tcpFallback', { tcpFallback: 'yes' }],
      ['gossipNodes', { gossipNodes: 1.5 }],
      ['suspicionConfirmations', { suspicionConfirmations: -1 }],
    ];
    for (const [field, override] of cases) {
      assert.throws(
        () => validateSwimConfig(lanSwimConfig(override)),
        (err: unknown) => isCairnError(err, 'INVALID_CONFIG') && err.message.includes(`SwimConfig.${field}`),
        field,
      );
    }
  });
});
