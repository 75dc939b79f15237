import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { planDevCluster, portChecks } from '../../src/cli/dev-cluster.js';
import { runCli as runInProcess } from '../../src/cli/run.js';
import { servedServices } from '../../src/node/config-fields.js';
import { portPlan } from '../../src/node/ports.js';
import { freeBasePort, memoryIo, REPO, runCli } from './agent-helpers.js';

/**
 * The `cairn` command line: exit codes and messages of usage and configuration errors (in this
 * process, through the same `runCli` that `main.ts` runs), the bin script, and `sim ping` replay
 * across processes.
 */

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('cairn: usage and configuration errors (exit 2)', () => {
  const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
    [['frobnicate'], /unknown command "frobnicate" \(see "cairn help"\)/],
    [['agent', '--htp-port', '1'], /unknown flag --htp-port for "cairn agent" \(see "cairn help agent"\)/],
    [['agent', '--http-port'], /flag --http-port needs a value/],
    [['agent', '--exit-with-parent=yes'], /flag --exit-with-parent takes no value/],
    [['agent', 'extra'], /unexpected argument "extra"/],
    [['agent'], /environment CAIRN_ROLES: roles\[1\] must be one of/, { CAIRN_ROLES: 'membership,web' }],
    [['agent', '--seeds', 'a:1,b'], /flag --seeds: seeds\[1\] must be host:port/],
    [['dev', '--nodes', '101'], /flag --nodes must be an integer 1-100, got "101"/],
    [['dev', '--base-port', '65100'], /flag --base-port must be an integer 1-\d+, got "65100"/],
    [['dev', '--roles', 'kv,web'], /flag --roles: "web" is not one of/],
    [['sim', 'pong'], /unknown simulation "pong"/],
    [['sim', 'ping', '--loss', '2'], /flag --loss must be a number 0-1, got "2"/],
    [['help', 'nothing'], /no help for unknown command "nothing"/],
  ];
  for (const [args, pattern, env] of cases) {
    it(`cairn ${args.join(' ')}`, async () => {
      const io = memoryIo(env);
      assert.equal(await runInProcess(args, io), 2, io.err());
      assert.match(io.err(), pattern);
      assert.equal(io.out(), '');
    });
  }

  it('names the file and the misspelt field of a config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    try {
      const file = join(dir, 'typo.yaml');
      await writeFile(file, 'bind:\n  htpPort: 1\n');
      const io = memoryIo();
      assert.equal(await runInProcess(['agent', '--config', file], io), 2);
      assert.match(
        io.err(),
        /config file .*typo\.yaml: unknown field "bind\.htpPort" \(did you mean "httpPort"\?\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cairn agent --config: files that are no config (exit 2, the file named)', () => {
  async function agentWithConfig(file: string): Promise<string> {
    const io = memoryIo();
    assert.equal(await runInProcess(['agent', '--config', file], io), 2, io.err());
    assert.equal(io.out(), '');
    return io.err();
  }

  it('refuses /dev/zero and a FIFO before reading them', { timeout: 20_000 }, async () => {
    assert.match(await agentWithConfig('/dev/zero'), /config file \/dev\/zero: is a character device/);
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    try {
      const fifo = join(dir, 'cairn.yaml');
      spawnSync('mkfifo', [fifo]);
      assert.match(await agentWithConfig(fifo), /config file .*cairn\.yaml: is a FIFO \(named pipe\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a YAML alias bomb as a configuration error naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    try {
      const file = join(dir, 'bomb.yaml');
      const levels = ['a: &a [x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < 8; i++) {
        const [prev, next] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
        levels.push(`${next}: &${next} [${Array(8).fill(`*${prev}`).join(', ')}]`);
      }
      await writeFile(file, `${levels.join('\n')}\n`);
      assert.match(await agentWithConfig(file), /config file .*bomb\.yaml: cannot be expanded/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cairn: help and version', () => {
  it('prints the version from package.json', async () => {
    const io = memoryIo();
    assert.equal(await runInProcess(['version'], io), 0);
    assert.equal(io.out(), `${VERSION}\n`);
  });

  it('lists every agent flag with its environment variable', async () => {
    const io = memoryIo();
    assert.equal(await runInProcess(['help', 'agent'], io), 0);
    assert.match(io.out(), /--http-port <value>\s+bind\.httpPort \(env CAIRN_HTTP_PORT\)/);
    assert.match(io.out(), /keyring\.keys \(env CAIRN_KEYRING_KEYS only/);
  });

  it('without a command prints the help to stderr and exits 2', async () => {
    const io = memoryIo();
    assert.equal(await runInProcess([], io), 2);
    assert.match(io.err(), /Usage: cairn <command>/);
  });
});

describe('cairn dev: a taken port', () => {
  it('fails with exit 1 naming the port and its service, before starting anything', async () => {
    const base = await freeBasePort(2);
    const busy = portPlan(base, 1).gossip;
    // Only the UDP side is taken: the check covers both sides of the gossip port.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(busy, '127.0.0.1', resolve));
    try {
      const io = memoryIo();
      assert.equal(await runInProcess(['dev', '--nodes', '2', '--json', '--base-port', String(base)], io), 1);
      assert.match(
        io.err(),
        new RegExp(`port ${busy} \\(gossip \\(UDP\\) of node-1\\) on 127\\.0\\.0\\.1 is already in use`),
      );
      assert.equal(io.out(), '');
    } finally {
      socket.close();
    }
  });

  it('checks only the ports of services that run (etcd with the store role, RESP with kv)', () => {
    const plan = planDevCluster({ nodes: 1, basePort: 7000, dataRoot: '.', cwd: REPO });
    assert.deepEqual(
      portChecks(plan, servedServices(['membership', 'store', 'kv'])).map((c) => c.what),
      [
        'HTTP of node-0',
        'gossip (TCP) of node-0',
        'gossip (UDP) of node-0',
        'etcd API of node-0',
        'RESP of node-0',
      ],
    );
    assert.deepEqual(
      portChecks(plan, servedServices(['membership', 'store'])).map((c) => c.what),
      ['HTTP of node-0', 'gossip (TCP) of node-0', 'gossip (UDP) of node-0', 'etcd API of node-0'],
    );
  });
});

describe('cairn agent: a taken HTTP port', () => {
  it('exits 1 naming the port', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    try {
      const io = memoryIo({ CAIRN_LOG_LEVEL: 'silent' });
      const args = [
        'agent',
        '--data-dir',
        dir,
        '--http-port',
        String(port),
        '--gossip-port',
        '0',
        '--etcd-port',
        '0',
        '--resp-port',
        '0',
      ];
      assert.equal(await runInProcess(args, io), 1);
      assert.match(
        io.err(),
        new RegExp(
          `cannot start: AGENT_START_FAILED: HTTP port ${port} on 127\\.0\\.0\\.1 is already in use`,
        ),
      );
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cairn agent: start failures name the port or path (exit 1)', () => {
  /** Runs `cairn agent` in this process with every port 0 but `flags`; returns its stderr. */
  async function agentFails(dir: string, flags: string[]): Promise<string> {
    const io = memoryIo({ CAIRN_LOG_LEVEL: 'silent' });
    const ports = ['--http-port', '0', '--gossip-port', '0'];
    assert.equal(await runInProcess(['agent', '--data-dir', dir, ...ports, ...flags], io), 1, io.err());
    assert.equal(io.out(), '');
    return io.err();
  }

  it('a gossip port taken on TCP or on UDP says "in use" with the port and the side', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    const server: Server = createServer();
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const tcp = (server.address() as AddressInfo).port;
      assert.match(
        await agentFails(dir, ['--gossip-port', String(tcp)]),
        new RegExp(`gossip port ${tcp} \\(TCP\\) on 127\\.0\\.0\\.1 is already in use`),
      );
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const udp = socket.address().port;
      assert.match(
        await agentFails(dir, ['--gossip-port', String(udp)]),
        new RegExp(`gossip port ${udp} \\(UDP\\) on 127\\.0\\.0\\.1 is already in use`),
      );
    } finally {
      server.close();
      socket.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an identity path that is a directory is reported as such, not as a permissions problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
    try {
      await mkdir(join(dir, 'node.key'));
      const err = await agentFails(dir, []);
      assert.match(err, /node key file .*node\.key is a directory, not a file/);
      assert.doesNotMatch(err, /other users|chmod/);
      const file = join(dir, 'plain');
      await writeFile(file, '');
      assert.match(await agentFails(file, []), /data directory .*plain is a file, not a directory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bin/cairn.js', () => {
  it('runs the CLI (built or from source) and passes its exit code through', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [join(REPO, 'bin', 'cairn.js'), ...args], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
        });
        child.on('close', (code) => resolve({ code, out }));
      });
    const [version, bad] = await Promise.all([run(['version']), run(['--bogus'])]);
    assert.deepEqual(version, { code: 0, out: `${VERSION}\n` });
    assert.equal(bad.code, 2);
  });
});

describe('cairn sim ping', () => {
  it('prints one JSON line; the same seed replays the trace hash, another seed changes it', async () => {
    const args = (seed: string) => [
      'sim',
      'ping',
      '--nodes',
      '50',
      '--seed',
      seed,
      '--loss',
      '0.1',
      '--duration-ms',
      '3000',
      '--json',
    ];
    const runs = [runCli(args('42')), runCli(args('42')), runCli(args('43'))];
    const results = await Promise.all(
      runs.map(async (proc) => {
        assert.equal((await proc.exit()).code, 0, proc.stderr());
        const lines = proc.stdoutLines.filter((l) => l !== '');
        assert.equal(lines.length, 1);
        return JSON.parse(lines[0]!) as Record<string, unknown> & {
          trace_hash: string;
          messages_sent: number;
          messages_delivered: number;
          nodes: number;
        };
      }),
    );
    const [a, b, c] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
    assert.equal(a.nodes, 50);
    assert.ok(a.messages_sent > 0 && a.messages_delivered < a.messages_sent, 'loss drops some messages');
    assert.equal(a.trace_hash, b.trace_hash);
    // Everything but the wall-clock figures replays exactly.
    const replayable = (r: Record<string, unknown>) => ({ ...r, wall_ms: 0, setup_ms: 0, events_per_s: 0 });
    assert.deepEqual(replayable(a), replayable(b));
    assert.notEqual(a.trace_hash, c.trace_hash);
    assert.match(
      runs[0]!.stderr(),
      /^seed=42 \(replay: cairn sim ping --nodes 50 --seed 42 --loss 0\.1 --duration-ms 3000 --json\)/,
    );
  });

  it('picks, prints and uses a seed when none is given', async () => {
    const io = memoryIo();
    assert.equal(
      await runInProcess(['sim', 'ping', '--nodes', '20', '--duration-ms', '2000', '--json'], io),
      0,
    );
    const seed = /^seed=(\d+) /.exec(io.err())?.[1];
    assert.ok(seed !== undefined, io.err());
    const result = JSON.parse(io.out()) as { seed: number };
    assert.equal(result.seed, Number(seed));
  });
});
