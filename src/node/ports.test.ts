import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError } from '../core/index.js';
import { formatHostPort, MAX_BASE_PORT, PORT_PLAN_MAX_NODES, parseHostPort, portPlan } from './ports.js';

describe('port plan', () => {
  it('puts node i on base+100+i, base+200+i, base+300+i, base+400+i', () => {
    assert.deepEqual(portPlan(7000, 0), { gossip: 7100, http: 7200, etcd: 7300, resp: 7400 });
    assert.deepEqual(portPlan(7000, 2), { gossip: 7102, http: 7202, etcd: 7302, resp: 7402 });
    assert.deepEqual(portPlan(), portPlan(7000, 0));
  });

  it('never gives two nodes or two services the same port, and stays below 65536', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_BASE_PORT }),
        fc.integer({ min: 1, max: PORT_PLAN_MAX_NODES }),
        (base, n) => {
          const ports = Array.from({ length: n }, (_, i) => Object.values(portPlan(base, i))).flat();
          assert.equal(new Set(ports).size, ports.length);
          assert.ok(ports.every((p) => p > base && p <= 65535));
        },
      ),
    );
  });

  it('rejects indexes outside the plan and bases that overflow', () => {
    for (const [base, index] of [
      [7000, PORT_PLAN_MAX_NODES],
      [7000, -1],
      [MAX_BASE_PORT + 1, 0],
      [0, 0],
      [7000.5, 0],
    ] as const) {
      assert.throws(
        () => portPlan(base, index),
        (err: unknown) => isCairnError(err, 'INVALID_ARGUMENT'),
      );
    }
  });
});

describe('host:port', () => {
  it('formats and parses IPv4, IPv6 and names', () => {
    assert.equal(formatHostPort('::1', 80), '[::1]:80');
    for (const [host, port] of [
      ['127.0.0.1', 7100],
      ['::1', 1],
      ['node-1.example.com', 65535],
    ] as const) {
      assert.deepEqual(parseHostPort(formatHostPort(host, port)), { host, port });
    }
  });

  it('rejects malformed addresses', () => {
    for (const text of [
      '',
      'host',
      'host:',
      ':80',
      'host:0',
      'host:65536',
      '::1:80',
      '[host]:80',
      'a b:80',
      'host:80x',
    ]) {
      assert.equal(parseHostPort(text), undefined, text);
    }
  });
});
