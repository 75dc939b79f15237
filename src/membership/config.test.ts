import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError } from '../core/index.js';
import {
  lanConfig,
  localConfig,
  type MembershipProtocolConfig,
  testConfig,
  validateProtocolConfig,
  wanConfig,
} from './config.js';

const invalid = (field: string) => (e: unknown) =>
  e instanceof CairnError && e.code === 'INVALID_CONFIG' && e.message.includes(field);

describe('membership config presets', () => {
  it('carry memberlist timings, SWIM detection and Lifeguard on by default', () => {
    const lan = lanConfig();
    assert.equal(lan.swim.probeIntervalMs, 1000);
    assert.equal(lan.swim.probeTimeoutMs, 500);
    assert.equal(lan.swim.gossipIntervalMs, 200);
    assert.equal(lan.pushPullIntervalMs, 30_000);
    assert.equal(wanConfig().swim.probeIntervalMs, 5000);
    assert.equal(wanConfig().swim.probeTimeoutMs, 3000);
    assert.equal(localConfig().swim.probeTimeoutMs, 200);
    assert.equal(testConfig().swim.probeIntervalMs, 200);
    // Reconnects (Serf's): one interval per push-pull interval, for 24 h after a death.
    for (const c of [lan, wanConfig(), localConfig(), testConfig()]) {
      assert.equal(c.reconnectIntervalMs, c.pushPullIntervalMs);
      assert.equal(c.reconnectTimeoutMs, 24 * 3600 * 1000);
    }
    for (const c of [lan, wanConfig(), localConfig(), testConfig()]) {
      assert.equal(c.detector, 'swim');
      assert.equal(c.heartbeats, false, 'SWIM probes carry liveness: no heartbeats');
      assert.equal(c.swim.lifeguard, true);
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.swim));
      assert.equal(validateProtocolConfig(c), c);
    }
  });

  it('merge nested overrides field by field', () => {
    const c = testConfig({
      swim: { lifeguard: false },
      detector: 'phi',
      phi: { threshold: 5 },
      syncTimeoutMs: 900,
    });
    assert.equal(c.swim.lifeguard, false);
    assert.equal(c.swim.probeIntervalMs, 200, 'the rest of swim is kept');
    assert.equal(c.detector, 'phi');
    assert.equal(c.heartbeats, true, 'phi reads heartbeats: on by default');
    assert.equal(lanConfig({ heartbeats: true }).heartbeats, true, 'on with SWIM on request');
    assert.equal(c.phi.threshold, 5);
    assert.equal(c.syncTimeoutMs, 900);
    assert.equal(testConfig().swim.lifeguard, true, 'presets are not mutated');
  });

  it('reject a bad field, naming it', () => {
    assert.throws(() => lanConfig({ antiEntropyIntervalMs: 0 }), invalid('antiEntropyIntervalMs'));
    assert.throws(() => lanConfig({ syncTimeoutMs: 1.5 }), invalid('syncTimeoutMs'));
    assert.throws(() => lanConfig({ catchUpDelayMs: 0 }), invalid('catchUpDelayMs'));
    assert.throws(() => lanConfig({ swim: { probeTimeoutMs: 5000 } }), invalid('probeTimeoutMs'));
    assert.throws(() => lanConfig({ detector: 'gossip' as 'swim' }), invalid('detector'));
    assert.throws(() => lanConfig({ state: { nope: 1 } as never }), invalid('nope'));
    assert.throws(() => lanConfig({ detector: 'phi', heartbeats: false }), invalid('heartbeats'));
    assert.throws(() => lanConfig({ heartbeats: 1 as unknown as boolean }), invalid('heartbeats'));
    const bad = { ...lanConfig(), reseedIntervalMs: -1 } as MembershipProtocolConfig;
    assert.throws(() => validateProtocolConfig(bad), invalid('reseedIntervalMs'));
    assert.throws(() => lanConfig({ reconnectIntervalMs: 0 }), invalid('reconnectIntervalMs'));
    assert.throws(() => lanConfig({ reconnectTimeoutMs: 2.5 }), invalid('reconnectTimeoutMs'));
  });
});
