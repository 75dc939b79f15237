import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rulesScript } from './network.js';
import { netPlan, octetOfLink, octetOfNetns } from './plan.js';

describe('netPlan', () => {
  it('names everything with the lab prefix and the run octet, within 15-character link names', () => {
    const plan = netPlan(250, 32, '/tmp/state');
    assert.equal(plan.bridge, 'clab250br');
    assert.equal(plan.bridgeAddress, '10.77.250.254');
    const last = plan.hosts[31]!;
    assert.deepEqual(
      {
        netns: last.netns,
        hostLink: last.hostLink,
        nsLink: last.nsLink,
        address: last.address,
        dataDir: last.dataDir,
      },
      {
        netns: 'cairnlab-250-31',
        hostLink: 'clab250v31',
        nsLink: 'clab250p31',
        address: '10.77.250.32',
        dataDir: '/tmp/state/250/node-31',
      },
    );
    for (const h of plan.hosts) assert.ok(h.hostLink.length <= 15 && h.nsLink.length <= 15);
  });

  it('refuses octets and node counts out of range', () => {
    assert.throws(() => netPlan(0, 3, '/s'), /octet must be 1-250/);
    assert.throws(() => netPlan(251, 3, '/s'), /octet must be 1-250/);
    assert.throws(() => netPlan(1, 33, '/s'), /maxNodes/);
  });

  it('recognises its own names and nothing else (the sweep relies on it)', () => {
    assert.equal(octetOfNetns('cairnlab-7-2'), 7);
    assert.equal(octetOfNetns('cairnlab-7'), undefined);
    assert.equal(octetOfNetns('other-7-2'), undefined);
    assert.equal(octetOfLink('clab7br'), 7);
    assert.equal(octetOfLink('clab7v3'), 7);
    assert.equal(octetOfLink('clab7p3'), 7);
    assert.equal(octetOfLink('eth0'), undefined);
    assert.equal(octetOfLink('clab7x'), undefined);
  });
});

describe('rulesScript', () => {
  const plan = netPlan(9, 3, '/s');

  it('replaces the lab table atomically and matches only lab nodes as sources', () => {
    const script = rulesScript(plan, { dropFrom: [0, 2], lossPercent: 15 });
    assert.equal(
      script,
      [
        'table inet cairnlab {}',
        'delete table inet cairnlab',
        'table inet cairnlab {',
        '  chain input {',
        '    type filter hook input priority 0; policy accept;',
        '    ip saddr { 10.77.9.1, 10.77.9.3 } drop',
        '    ip saddr { 10.77.9.1, 10.77.9.2, 10.77.9.3 } numgen random mod 100 < 15 drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    assert.ok(!script.includes(plan.bridgeAddress), 'the lab bridge address is never matched');
  });

  it('is an empty chain when healed', () => {
    assert.doesNotMatch(rulesScript(plan, { dropFrom: [], lossPercent: 0 }), /drop/);
  });
});
