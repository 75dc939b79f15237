import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../core/index.js';
import { lanConfig, localConfig, testConfig, wanConfig } from '../membership/config.js';
import { membershipProtocol } from './membership-protocol.js';

describe('membershipProtocol', () => {
  it('is the named preset when nothing is overridden', () => {
    assert.deepEqual(membershipProtocol({ preset: 'lan' }), lanConfig());
    assert.deepEqual(membershipProtocol({ preset: 'wan' }), wanConfig());
    assert.deepEqual(membershipProtocol({ preset: 'local' }), localConfig());
    assert.deepEqual(membershipProtocol({ preset: 'test' }), testConfig());
  });

  it('applies the overrides to the SWIM part and keeps the rest of the preset', () => {
    const p = membershipProtocol({
      preset: 'local',
      probeIntervalMs: 500,
      probeTimeoutMs: 150,
      suspicionMult: 5,
      gossipIntervalMs: 50,
    });
    const base = localConfig();
    assert.deepEqual(p.swim, {
      ...base.swim,
      probeIntervalMs: 500,
      probeTimeoutMs: 150,
      suspicionMult: 5,
      gossipIntervalMs: 50,
    });
    assert.equal(p.pushPullIntervalMs, base.pushPullIntervalMs);
  });

  it('rejects overrides that do not fit together, naming the field', () => {
    assert.throws(
      () => membershipProtocol({ preset: 'lan', probeIntervalMs: 400 }),
      (err: unknown) => isCairnError(err, 'INVALID_CONFIG') && /probeTimeoutMs/.test(err.message),
    );
  });
});
