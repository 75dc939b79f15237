import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isCairnError } from '../core/index.js';
import {
  buildAgentConfig,
  defaultAgentConfig,
  envLayer,
  flagLayer,
  loadAgentConfig,
  parseConfigText,
  readConfigFile,
} from './config.js';
import { CONFIG_LIMITS, ROLE_NAMES } from './config-fields.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** Asserts that `fn` throws AGENT_CONFIG_INVALID with a message matching every pattern. */
function throwsConfig(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCairnError(err, 'AGENT_CONFIG_INVALID'), `expected AGENT_CONFIG_INVALID, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('agent config: defaults', () => {
  it('listens on loopback with node 0 of the base-7000 plan and runs every role', () => {
    const c = buildAgentConfig([], '/srv');
    assert.deepEqual(c.bind, {
      host: '127.0.0.1',
      gossipPort: 7100,
      httpPort: 7200,
      etcdPort: 7300,
      respPort: 7400,
    });
    assert.deepEqual(c.roles, [...ROLE_NAMES]);
    assert.deepEqual(c.seeds, []);
    assert.equal(c.dataDir, '/srv/.cairn/agent');
    assert.equal(c.name, undefined);
    assert.equal(c.keyring, undefined);
    assert.equal(c.log.level, 'info');
  });

  it('returns a fresh object each time', () => {
    const a = defaultAgentConfig();
    a.roles.pop();
    assert.equal(defaultAgentConfig().roles.length, ROLE_NAMES.length);
  });
});

describe('agent config: YAML file', () => {
  it('reads every field', () => {
    const text = [
      'name: alpha',
      'dataDir: /var/lib/cairn',
      'bind:',
      '  host: 0.0.0.0',
      '  gossipPort: 8100',
      '  httpPort: 8200',
      '  etcdPort: 8300',
      '  respPort: 8400',
      'advertiseHost: 10.0.0.5',
      'roles: [membership, kv]',
      'seeds: ["10.0.0.6:8100", "[::1]:8100", "db.example.com:8100"]',
      'keyring:',
      `  keys: ["${KEY_A}", "${KEY_B}"]`,
      '  label: prod',
      'log:',
      '  level: debug',
      'shutdownTimeoutMs: 5000',
    ].join('\n');
    const c = buildAgentConfig([parseConfigText(text, 'cairn.yaml')], '/');
    assert.equal(c.name, 'alpha');
    assert.equal(c.dataDir, '/var/lib/cairn');
    assert.deepEqual(c.bind, {
      host: '0.0.0.0',
      gossipPort: 8100,
      httpPort: 8200,
      etcdPort: 8300,
      respPort: 8400,
    });
    assert.equal(c.advertiseHost, '10.0.0.5');
    assert.deepEqual(c.roles, ['membership', 'kv']);
    assert.deepEqual(c.seeds, ['10.0.0.6:8100', '[::1]:8100', 'db.example.com:8100']);
    assert.deepEqual(c.keyring, { keys: [KEY_A, KEY_B], label: 'prod' });
    assert.equal(c.log.level, 'debug');
    assert.equal(c.shutdownTimeoutMs, 5000);
  });

  it('names the file, the field and the bad value', () => {
    throwsConfig(
      () => parseConfigText('bind:\n  httpPort: "80a"\n', 'cairn.yaml'),
      /^config file cairn\.yaml: bind\.httpPort must be an integer 0-65535/,
      /got "80a"/,
    );
    throwsConfig(
      () => parseConfigText('bind:\n  httpPort: 70000\n', 'c.yaml'),
      /bind\.httpPort .* got 70000/,
    );
    throwsConfig(
      () => parseConfigText('roles: [membership, raft]\n', 'c.yaml'),
      /roles\[1\] must be one of .* got "raft"/,
    );
    throwsConfig(() => parseConfigText('roles: [kv, kv]\n', 'c.yaml'), /roles\[1\] repeats/);
    throwsConfig(() => parseConfigText('seeds: ["nohost"]\n', 'c.yaml'), /seeds\[0\] must be host:port/);
    throwsConfig(() => parseConfigText('seeds: "a:1"\n', 'c.yaml'), /seeds must be a list/);
    throwsConfig(() => parseConfigText('log:\n  level: loud\n', 'c.yaml'), /log\.level must be one of/);
    throwsConfig(() => parseConfigText('name: "bad name"\n', 'c.yaml'), /name must be a name/);
    throwsConfig(() => parseConfigText('bind: 7000\n', 'c.yaml'), /bind must be a mapping/);
  });

  it('rejects unknown fields, with a suggestion for a near miss', () => {
    throwsConfig(
      () => parseConfigText('nmae: x\n', 'c.yaml'),
      /unknown field "nmae" \(did you mean "name"\?\)/,
    );
    throwsConfig(
      () => parseConfigText('bind:\n  http_port: 1\n', 'c.yaml'),
      /unknown field "bind\.http_port" \(did you mean "httpPort"\?\)/,
    );
    throwsConfig(
      () => parseConfigText('extra: 1\n', 'c.yaml'),
      /unknown field "extra"; known fields here: name, dataDir/,
    );
  });

  it('rejects invalid YAML, duplicate keys and a non-mapping document', () => {
    throwsConfig(() => parseConfigText('bind: [\n', 'c.yaml'), /^config file c\.yaml: is not valid YAML/);
    throwsConfig(() => parseConfigText('name: a\nname: b\n', 'c.yaml'), /is not valid YAML/);
    throwsConfig(() => parseConfigText('- a\n- b\n', 'c.yaml'), /must be a YAML mapping/);
  });

  it('never prints a keyring key, even a bad one', () => {
    const secret = 'c2VjcmV0LWJ1dC13cm9uZy1sZW5ndGg=';
    assert.throws(
      () => parseConfigText(`keyring:\n  keys: ["${secret}"]\n`, 'c.yaml'),
      (err: Error) => /keyring\.keys\[0\]/.test(err.message) && !err.message.includes(secret),
    );
  });

  it('treats an empty file and empty values as unset', () => {
    assert.equal(parseConfigText('', 'c.yaml').size, 0);
    const layer = parseConfigText('advertiseHost:\nbind:\n', 'c.yaml');
    assert.equal(layer.size, 0);
  });

  it('refuses a YAML alias bomb as bad input naming the file, not as a crash', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, prev] of ['a', 'b', 'c', 'd', 'e', 'f'].entries()) {
      const next = String.fromCharCode(98 + i);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    throwsConfig(
      () => parseConfigText(`${bomb.join('\n')}\n`, 'bomb.yaml'),
      /^config file bomb\.yaml: cannot be expanded \(.*alias.*\); at most 100 alias uses/i,
    );
  });

  it('refuses a file over maxConfigFileBytes without parsing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-config-'));
    try {
      const file = join(dir, 'big.yaml');
      await writeFile(file, `# ${'x'.repeat(CONFIG_LIMITS.maxConfigFileBytes)}\n`);
      await assert.rejects(
        readConfigFile(file),
        /big\.yaml: is over 1048576 bytes, the limit maxConfigFileBytes/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a regular file before reading it', { timeout: 10_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-config-'));
    try {
      const fifo = join(dir, 'fifo.yaml');
      execFileSync('mkfifo', [fifo]);
      // Without a non-blocking open this would wait for a writer forever.
      await assert.rejects(
        readConfigFile(fifo),
        /fifo\.yaml: is a FIFO \(named pipe\); a config file must be a regular file/,
      );
      // An endless device: read whole, it would grow without bound.
      await assert.rejects(
        readConfigFile('/dev/zero'),
        /\/dev\/zero: is a character device; a config file must be a regular file/,
      );
      await assert.rejects(readConfigFile(dir), /is a directory; a config file must be a regular file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing file by path', async () => {
    await assert.rejects(
      readConfigFile('/nonexistent/cairn.yaml'),
      /config file \/nonexistent\/cairn\.yaml: cannot be read \(ENOENT\)/,
    );
  });
});

describe('agent config: environment and flags', () => {
  it('reads env variables, lists split on commas, empty ones unset', () => {
    const c = buildAgentConfig([
      envLayer({
        CAIRN_NAME: 'beta',
        CAIRN_HTTP_PORT: '9200',
        CAIRN_ROLES: 'membership, store',
        CAIRN_SEEDS: 'a.local:7100,b.local:7100',
        CAIRN_LOG_LEVEL: 'warn',
        CAIRN_KEYRING_KEYS: KEY_A,
        CAIRN_DATA_DIR: '',
      }),
    ]);
    assert.equal(c.name, 'beta');
    assert.equal(c.bind.httpPort, 9200);
    assert.deepEqual(c.roles, ['membership', 'store']);
    assert.deepEqual(c.seeds, ['a.local:7100', 'b.local:7100']);
    assert.equal(c.log.level, 'warn');
    assert.deepEqual(c.keyring, { keys: [KEY_A] });
  });

  it('names the variable in errors', () => {
    throwsConfig(
      () => envLayer({ CAIRN_HTTP_PORT: '80a' }),
      /^environment CAIRN_HTTP_PORT: bind\.httpPort must be .* got "80a"/,
    );
    throwsConfig(() => envLayer({ CAIRN_ROLES: 'kv,web' }), /^environment CAIRN_ROLES: roles\[1\]/);
  });

  it('names the flag in errors; repeated list flags accumulate', () => {
    throwsConfig(() => flagLayer({ 'gossip-port': '-1' }), /^flag --gossip-port: bind\.gossipPort must be/);
    const layer = flagLayer({ seeds: ['a.local:1,b.local:2', 'c.local:3'], unrelated: true });
    assert.deepEqual(layer.get('seeds')?.value, ['a.local:1', 'b.local:2', 'c.local:3']);
  });
});

describe('agent config: precedence defaults < file < env < flags', () => {
  const file = parseConfigText(
    'name: from-file\nbind:\n  httpPort: 1001\n  gossipPort: 1002\n  etcdPort: 1003\n',
    'c.yaml',
  );
  const env = envLayer({ CAIRN_HTTP_PORT: '2001', CAIRN_GOSSIP_PORT: '2002' });
  const flags = flagLayer({ 'http-port': '3001' });

  it('env overrides the file, flags override env, untouched fields keep lower layers', () => {
    const c = buildAgentConfig([file, env, flags]);
    assert.equal(c.bind.httpPort, 3001); // flag
    assert.equal(c.bind.gossipPort, 2002); // env over file
    assert.equal(c.bind.etcdPort, 1003); // file over default
    assert.equal(c.bind.respPort, 7400); // default
    assert.equal(c.name, 'from-file');
  });

  it('loadAgentConfig reads the file and applies env and flags over it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-config-'));
    try {
      const path = join(dir, 'cairn.yaml');
      await writeFile(path, 'dataDir: data\nlog:\n  level: debug\nbind:\n  httpPort: 1\n');
      const c = await loadAgentConfig({
        configFile: path,
        env: { CAIRN_LOG_LEVEL: 'error', CAIRN_HTTP_PORT: '2' },
        flags: { 'http-port': '3' },
        cwd: dir,
      });
      assert.equal(c.dataDir, join(dir, 'data'));
      assert.equal(c.log.level, 'error');
      assert.equal(c.bind.httpPort, 3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('agent config: cross-field checks', () => {
  it('rejects two services on one port, naming both and their sources', () => {
    throwsConfig(
      () => buildAgentConfig([flagLayer({ 'gossip-port': '7200' })]),
      /bind\.httpPort \(default\) and bind\.gossipPort \(flag --gossip-port\) are both 7200/,
    );
  });

  it('does not require a port for a service that does not run (RESP without kv; etcd without the store role)', () => {
    // Without the kv role nothing binds the RESP port, so it cannot clash.
    assert.equal(
      buildAgentConfig([flagLayer({ roles: 'membership', 'resp-port': '7100' })]).bind.respPort,
      7100,
    );
    assert.throws(
      () => buildAgentConfig([flagLayer({ 'resp-port': '7100' })]),
      /bind\.gossipPort \(default\) and bind\.respPort \(flag --resp-port\) are both 7100/,
    );
    // Without the store role nothing binds the etcd port.
    assert.equal(
      buildAgentConfig([flagLayer({ roles: 'membership', 'etcd-port': '7200' })]).bind.etcdPort,
      7200,
    );
    assert.throws(
      () => buildAgentConfig([flagLayer({ 'etcd-port': '7200' })]),
      /bind\.httpPort \(default\) and bind\.etcdPort \(flag --etcd-port\) are both 7200/,
    );
    // Without the membership role nothing binds the gossip port either.
    assert.equal(buildAgentConfig([flagLayer({ roles: 'kv', 'gossip-port': '7200' })]).bind.gossipPort, 7200);
  });

  it('allows several ports of 0 (each picks a free port)', () => {
    const c = buildAgentConfig([flagLayer({ 'http-port': '0', 'etcd-port': '0' })]);
    assert.equal(c.bind.httpPort, 0);
    assert.equal(c.bind.etcdPort, 0);
  });

  it('rejects a keyring label without keys', () => {
    throwsConfig(
      () => buildAgentConfig([envLayer({ CAIRN_KEYRING_LABEL: 'prod' })]),
      /^environment CAIRN_KEYRING_LABEL: keyring\.label is set/,
    );
  });
});

describe('agent config: membership', () => {
  it('defaults to the lan preset with a 2.5 s leave and no overrides', () => {
    assert.deepEqual(buildAgentConfig([]).membership, { preset: 'lan', leaveTimeoutMs: 2500 });
  });

  it('reads the preset and overrides from the file, env and flags', () => {
    const file = parseConfigText(
      'membership:\n  preset: wan\n  probeIntervalMs: 6000\n  suspicionMult: 5\n  leaveTimeoutMs: 1000\n',
      'c.yaml',
    );
    assert.deepEqual(buildAgentConfig([file]).membership, {
      preset: 'wan',
      probeIntervalMs: 6000,
      suspicionMult: 5,
      leaveTimeoutMs: 1000,
    });
    const env = envLayer({ CAIRN_MEMBERSHIP_PRESET: 'local', CAIRN_MEMBERSHIP_GOSSIP_INTERVAL_MS: '50' });
    const flags = flagLayer({ 'membership-probe-interval-ms': '500', 'membership-probe-timeout-ms': '100' });
    assert.deepEqual(buildAgentConfig([file, env, flags]).membership, {
      preset: 'local',
      probeIntervalMs: 500,
      probeTimeoutMs: 100,
      suspicionMult: 5,
      gossipIntervalMs: 50,
      leaveTimeoutMs: 1000,
    });
  });

  it('names the source and field of a bad value', () => {
    throwsConfig(
      () => parseConfigText('membership:\n  preset: moon\n', 'c.yaml'),
      /^config file c\.yaml: membership\.preset must be one of lan, wan, local, test, got "moon"/,
    );
    throwsConfig(
      () => flagLayer({ 'membership-probe-interval-ms': '0' }),
      /^flag --membership-probe-interval-ms: membership\.probeIntervalMs must be an integer 1-600000/,
    );
    throwsConfig(
      () => envLayer({ CAIRN_MEMBERSHIP_SUSPICION_MULT: 'x' }),
      /^environment CAIRN_MEMBERSHIP_SUSPICION_MULT: membership\.suspicionMult must be an integer 1-100/,
    );
    throwsConfig(
      () => parseConfigText('membership:\n  probeInterval: 5\n', 'c.yaml'),
      /unknown field "membership\.probeInterval" \(did you mean "probeIntervalMs"\?\)/,
    );
  });

  it('rejects overrides that do not fit the preset, naming the settings and their sources', () => {
    // local's probe timeout is 200 ms: an interval of 150 ms leaves no room for it.
    throwsConfig(
      () =>
        buildAgentConfig([
          flagLayer({ 'membership-preset': 'local', 'membership-probe-interval-ms': '150' }),
        ]),
      /^config: membership settings \(membership\.preset from flag --membership-preset, membership\.probeIntervalMs from flag --membership-probe-interval-ms\) do not fit the "local" preset: .*probeTimeoutMs .*got 200/,
    );
  });

  it('rejects a leave timeout that does not fit in the shutdown timeout', () => {
    throwsConfig(
      () => buildAgentConfig([flagLayer({ 'shutdown-timeout-ms': '2000' })]),
      /membership\.leaveTimeoutMs \(default\) is 2500 ms but must be below shutdownTimeoutMs \(flag --shutdown-timeout-ms, 2000 ms\)/,
    );
  });
});

describe('agent config: transport limits', () => {
  it('reads every inbound limit from the file, env and flags; absent ones keep the transport default', () => {
    const file = parseConfigText(
      'transport:\n  firstFrameTimeoutMs: 2000\n  maxInboundStreams: 500\n  unprovenMaxFrameBytes: 4096\n',
      'c.yaml',
    );
    const env = envLayer({ CAIRN_TRANSPORT_MAX_STREAMS_PER_HOST: '16' });
    const flags = flagLayer({
      'transport-max-partial-frame-bytes': '1048576',
      'transport-max-inbound-streams': '600',
    });
    assert.deepEqual(buildAgentConfig([file, env, flags]).transport, {
      firstFrameTimeoutMs: 2000,
      maxInboundStreams: 600,
      maxStreamsPerHost: 16,
      unprovenMaxFrameBytes: 4096,
      maxPartialFrameBytes: 1048576,
    });
    assert.deepEqual(buildAgentConfig([]).transport, {});
  });

  it('names the source and the range of a bad limit', () => {
    throwsConfig(
      () => flagLayer({ 'transport-max-inbound-streams': '5000' }),
      /^flag --transport-max-inbound-streams: transport\.maxInboundStreams must be an integer 1-1024 \(connections\)/,
    );
    throwsConfig(
      () => envLayer({ CAIRN_TRANSPORT_UNPROVEN_MAX_FRAME_BYTES: '10' }),
      /^environment CAIRN_TRANSPORT_UNPROVEN_MAX_FRAME_BYTES: transport\.unprovenMaxFrameBytes must be an integer 1024-16777216 \(bytes\)/,
    );
  });
});
