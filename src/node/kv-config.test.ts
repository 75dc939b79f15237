import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../core/index.js';
import { buildAgentConfig, envLayer, flagLayer, parseConfigText } from './config.js';

/** The `kv.*` fields of the agent config: defaults, the three sources, and refusals. */

describe('agent config: kv', () => {
  it('defaults to rf 3, 16 tokens, QUORUM/QUORUM, fsync on, no seeds, a 30 s ring delay', () => {
    assert.deepEqual(buildAgentConfig([]).kv, {
      replicationFactor: 3,
      tokens: 16,
      readConsistency: 'QUORUM',
      writeConsistency: 'QUORUM',
      sync: true,
      seeds: [],
      ringDelayMs: 30_000,
      antiEntropyIntervalMs: 600_000,
      hintReplayIntervalMs: 10_000,
    });
  });

  it('reads every field from YAML, the environment and flags (flags win)', () => {
    const file = parseConfigText(
      [
        'kv:',
        '  replicationFactor: 5',
        '  tokens: 32',
        '  readConsistency: ONE',
        '  writeConsistency: ALL',
        '  sync: false',
        '  seeds: [a, b]',
        '  ringDelayMs: 1000',
        '  antiEntropyIntervalMs: 0',
        '  hintReplayIntervalMs: 500',
      ].join('\n'),
      'cairn.yaml',
    );
    assert.deepEqual(buildAgentConfig([file]).kv, {
      replicationFactor: 5,
      tokens: 32,
      readConsistency: 'ONE',
      writeConsistency: 'ALL',
      sync: false,
      seeds: ['a', 'b'],
      ringDelayMs: 1000,
      antiEntropyIntervalMs: 0,
      hintReplayIntervalMs: 500,
    });
    const env = envLayer({
      CAIRN_KV_REPLICATION_FACTOR: '2',
      CAIRN_KV_SYNC: 'true',
      CAIRN_KV_READ_CONSISTENCY: 'all',
      CAIRN_KV_SEEDS: 'x, y',
    });
    const flags = flagLayer({ 'kv-replication-factor': '1', 'kv-sync': 'no', 'kv-write-consistency': 'one' });
    const c = buildAgentConfig([file, env, flags]).kv;
    assert.equal(c.replicationFactor, 1);
    assert.equal(c.sync, false);
    assert.equal(c.readConsistency, 'ALL');
    assert.equal(c.writeConsistency, 'ONE');
    assert.deepEqual(c.seeds, ['x', 'y']);
    assert.equal(c.tokens, 32);
  });

  it('refuses bad values naming the field and the source', () => {
    const refuses = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(
        fn,
        (err: unknown) => isCairnError(err, 'AGENT_CONFIG_INVALID') && pattern.test(err.message),
      );
    refuses(
      () => flagLayer({ 'kv-replication-factor': '0' }),
      /flag --kv-replication-factor: kv\.replicationFactor must be an integer 1-15/,
    );
    refuses(() => flagLayer({ 'kv-tokens': '257' }), /kv\.tokens must be an integer 1-256/);
    refuses(
      () => envLayer({ CAIRN_KV_READ_CONSISTENCY: 'TWO' }),
      /environment CAIRN_KV_READ_CONSISTENCY: kv\.readConsistency must be one of ONE, QUORUM, ALL/,
    );
    refuses(() => flagLayer({ 'kv-sync': 'maybe' }), /kv\.sync must be true or false/);
    refuses(
      () => parseConfigText('kv:\n  sync: 1\n', 'c.yaml'),
      /config file c\.yaml: kv\.sync must be true or false/,
    );
    refuses(() => parseConfigText('kv:\n  replicas: 3\n', 'c.yaml'), /unknown field "kv\.replicas"/);
    refuses(() => flagLayer({ 'kv-seeds': 'a,a' }), /repeats an earlier item/);
    refuses(
      () => flagLayer({ 'kv-hint-replay-interval-ms': '0' }),
      /kv\.hintReplayIntervalMs must be an integer 1-3600000/,
    );
    refuses(
      () => flagLayer({ 'kv-anti-entropy-interval-ms': '-1' }),
      /kv\.antiEntropyIntervalMs must be an integer 0-86400000/,
    );
  });
});
