import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../core/manual-clock.js';
import { formatToken, mintToken } from '../../../security/token.js';
import { KvError } from '../../errors.js';
import { MemoryKv } from '../../memory-kv.js';
import type { KvApi } from '../../types.js';
import { type RespAuthOptions, RespAuthorizer } from '../auth.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { encodeReply, type Protocol } from '../reply.js';
import type { CommandContext, ServerContext, Session } from './context.js';
import { commandTable, dispatch, specOf } from './table.js';

const ROOT = new Uint8Array(32).fill(7);

function harness(options: { kv?: KvApi; auth?: boolean; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(1_700_000_000_000);
  const kv = options.kv ?? new MemoryKv({ clock, name: 'n1', resp: '127.0.0.1:7000' });
  const authOptions: RespAuthOptions = { rootKeys: [ROOT], clock };
  const sessions: Session[] = [];
  const server: ServerContext = {
    kv,
    clock,
    limits: { ...DEFAULT_LIMITS },
    auth: options.auth === true ? new RespAuthorizer(authOptions) : undefined,
    logger: undefined,
    stats: {
      connectionsAccepted: 0,
      connectionsRejected: 0,
      connectionsOpen: 0,
      commandsProcessed: 0,
      errorReplies: 0,
      protocolErrors: 0,
      readPauses: 0,
      bytesIn: 0,
      bytesOut: 0,
      idleSweeps: 0,
    },
    port: 7000,
    sessions: () => sessions,
    info: () => ({ hints_pending: 3 }),
    startedAt: clock.now(),
  };
  const session: Session = {
    id: 1,
    addr: '127.0.0.1:5000',
    laddr: '127.0.0.1:7000',
    createdAt: clock.now(),
    lastCommandAt: clock.now(),
    proto: 2,
    name: '',
    libName: '',
    libVersion: '',
    readConsistency: 'QUORUM',
    writeConsistency: 'QUORUM',
    credential: undefined,
    authenticated: options.auth !== true,
    lastCommand: 'NULL',
    closeAfterReply: false,
  };
  sessions.push(session);
  const ctx: CommandContext = { server, session };
  /** Runs a command and answers its encoding in the session's protocol, as text. */
  const run = async (...args: (string | Buffer)[]): Promise<string> => {
    const reply = await dispatch(
      ctx,
      args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a)),
    );
    return encodeReply(reply, session.proto as Protocol).toString('latin1');
  };
  return { run, clock, kv, session, server };
}

describe('RESP commands', () => {
  it('answers PING, ECHO, SELECT and unknown commands like Redis', async () => {
    const { run } = harness();
    assert.equal(await run('PING'), '+PONG\r\n');
    assert.equal(await run('ping', 'hi'), '$2\r\nhi\r\n');
    assert.equal(await run('PING', 'a', 'b'), "-ERR wrong number of arguments for 'ping' command\r\n");
    assert.equal(await run('ECHO'), "-ERR wrong number of arguments for 'echo' command\r\n");
    assert.equal(await run('SELECT', '0'), '+OK\r\n');
    assert.equal(await run('SELECT', '1'), '-ERR DB index is out of range\r\n');
    assert.equal(await run('SELECT', 'x'), '-ERR value is not an integer or out of range\r\n');
    assert.equal(
      await run('FOO', 'a', 'b'),
      "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    );
    assert.equal(await run('FOO'), "-ERR unknown command 'FOO', with args beginning with: \r\n");
  });

  it('GET, SET and its options', async () => {
    const { run, clock } = harness();
    assert.equal(await run('GET', 'k'), '$-1\r\n');
    assert.equal(await run('SET', 'k', 'v'), '+OK\r\n');
    assert.equal(await run('GET', 'k'), '$1\r\nv\r\n');
    assert.equal(await run('SET', 'k', 'w', 'NX'), '$-1\r\n');
    assert.equal(await run('SET', 'k2', 'w', 'XX'), '$-1\r\n');
    assert.equal(await run('GET', 'k2'), '$-1\r\n');
    assert.equal(await run('SET', 'k', 'w', 'XX', 'GET'), '$1\r\nv\r\n');
    assert.equal(await run('SET', 'k', 'x', 'NX', 'GET'), '$1\r\nw\r\n');
    assert.equal(await run('GET', 'k'), '$1\r\nw\r\n');
    assert.equal(await run('SET', 'k', 'x', 'EX', '10'), '+OK\r\n');
    assert.equal(await run('TTL', 'k'), ':10\r\n');
    assert.equal(await run('SET', 'k', 'y', 'KEEPTTL'), '+OK\r\n');
    assert.equal(await run('PTTL', 'k'), ':10000\r\n');
    assert.equal(await run('SET', 'k', 'z'), '+OK\r\n');
    assert.equal(await run('TTL', 'k'), ':-1\r\n');
    assert.equal(await run('SET', 'k', 'z', 'PX', '1500'), '+OK\r\n');
    assert.equal(await run('TTL', 'k'), ':2\r\n'); // Redis rounds: (1500 + 500) / 1000
    const at = clock.now() + 5000;
    assert.equal(await run('SET', 'k', 'z', 'PXAT', String(at)), '+OK\r\n');
    assert.equal(await run('PTTL', 'k'), ':5000\r\n');
    assert.equal(await run('SET', 'k', 'z', 'EXAT', String(Math.floor(at / 1000) + 1)), '+OK\r\n');
    clock.advance(10_000);
    assert.equal(await run('GET', 'k'), '$-1\r\n');
    assert.equal(await run('SET', 'k', 'v', 'NX', 'XX'), '-ERR syntax error\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', '1', 'PX', '1'), '-ERR syntax error\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', '1', 'KEEPTTL'), '-ERR syntax error\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX'), '-ERR syntax error\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', 'x'), '-ERR value is not an integer or out of range\r\n');
    assert.equal(await run('SET', 'k', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command\r\n");
    assert.equal(
      await run('SET', 'k', 'v', 'EX', '9007199254740991'),
      "-ERR invalid expire time in 'set' command\r\n",
    );
    assert.equal(await run('SET', 'k'), "-ERR wrong number of arguments for 'set' command\r\n");
  });

  it('DEL, EXISTS, MGET, MSET, DBSIZE', async () => {
    const { run } = harness();
    assert.equal(await run('MSET', 'a', '1', 'b', '2', 'c', '3'), '+OK\r\n');
    assert.equal(await run('MSET', 'a', '1', 'b'), "-ERR wrong number of arguments for 'mset' command\r\n");
    assert.equal(await run('MGET', 'a', 'x', 'c'), '*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n');
    assert.equal(await run('EXISTS', 'a', 'a', 'x'), ':2\r\n');
    assert.equal(await run('DBSIZE'), ':3\r\n');
    assert.equal(await run('DEL', 'a', 'a', 'x', 'b'), ':2\r\n');
    assert.equal(await run('DBSIZE'), ':1\r\n');
  });

  it('EXPIRE, PEXPIRE, EXPIREAT, TTL, PTTL, PERSIST', async () => {
    const { run, clock } = harness();
    assert.equal(await run('EXPIRE', 'k', '10'), ':0\r\n');
    assert.equal(await run('TTL', 'k'), ':-2\r\n');
    await run('SET', 'k', 'v');
    assert.equal(await run('EXPIRE', 'k', '10', 'XX'), ':0\r\n');
    assert.equal(await run('EXPIRE', 'k', '10', 'NX'), ':1\r\n');
    assert.equal(await run('EXPIRE', 'k', '20', 'NX'), ':0\r\n');
    assert.equal(await run('EXPIRE', 'k', '5', 'GT'), ':0\r\n');
    assert.equal(await run('EXPIRE', 'k', '20', 'GT'), ':1\r\n');
    assert.equal(await run('EXPIRE', 'k', '30', 'LT'), ':0\r\n');
    assert.equal(await run('PEXPIRE', 'k', '15000', 'LT'), ':1\r\n');
    assert.equal(await run('PTTL', 'k'), ':15000\r\n');
    assert.equal(await run('EXPIREAT', 'k', String(Math.floor(clock.now() / 1000) + 100)), ':1\r\n');
    assert.equal(await run('PERSIST', 'k'), ':1\r\n');
    assert.equal(await run('PERSIST', 'k'), ':0\r\n');
    assert.equal(await run('TTL', 'k'), ':-1\r\n');
    assert.equal(
      await run('EXPIRE', 'k', '1', 'NX', 'XX'),
      '-ERR NX and XX, GT or LT options at the same time are not compatible\r\n',
    );
    assert.equal(
      await run('EXPIRE', 'k', '1', 'GT', 'LT'),
      '-ERR GT and LT options at the same time are not compatible\r\n',
    );
    assert.equal(await run('EXPIRE', 'k', '1', 'ZZ'), '-ERR Unsupported option ZZ\r\n');
    assert.equal(await run('EXPIRE', 'k', 'x'), '-ERR value is not an integer or out of range\r\n');
    // A time in the past deletes the key.
    assert.equal(await run('PEXPIRE', 'k', '-1'), ':1\r\n');
    assert.equal(await run('EXISTS', 'k'), ':0\r\n');
  });

  it('SCAN walks every key with MATCH and COUNT, and validates its arguments', async () => {
    const { run, kv } = harness();
    for (let i = 0; i < 50; i++)
      await kv.put(Buffer.from(`${i % 2 ? 'odd' : 'even'}:${i}`), Buffer.from('v'));
    const seen = new Set<string>();
    let cursor = '0';
    let pages = 0;
    do {
      const reply = await run('SCAN', cursor, 'MATCH', 'odd:*', 'COUNT', '7');
      const lines = reply.split('\r\n');
      cursor = lines[2]!;
      for (let i = 5; i < lines.length; i += 2) if (lines[i]) seen.add(lines[i]!);
      pages++;
    } while (cursor !== '0' && pages < 100);
    assert.equal(cursor, '0');
    assert.equal(seen.size, 25);
    for (const k of seen) assert.match(k, /^odd:/);
    assert.equal(await run('SCAN', 'x'), '-ERR invalid cursor\r\n');
    assert.equal(await run('SCAN', '18446744073709551616'), '-ERR invalid cursor\r\n');
    assert.equal(await run('SCAN', '0', 'COUNT', '0'), '-ERR syntax error\r\n');
    assert.equal(await run('SCAN', '0', 'COUNT'), '-ERR syntax error\r\n');
    assert.equal(await run('SCAN', '0', 'BOGUS', '1'), '-ERR syntax error\r\n');
    assert.equal(await run('SCAN', '0', 'TYPE', 'list', 'COUNT', '100'), '*2\r\n$1\r\n0\r\n*0\r\n');
  });

  it('refuses the INCR family with a reason', async () => {
    const { run } = harness();
    for (const cmd of [
      ['INCR', 'k'],
      ['DECRBY', 'k', '2'],
      ['INCRBYFLOAT', 'k', '1.5'],
      ['APPEND', 'k', 'x'],
    ]) {
      const reply = await run(...cmd);
      assert.match(reply, /^-ERR [A-Z]+ is not supported: .*last-write-wins.*atomic read-modify-write/);
    }
    assert.equal(await run('INCR'), "-ERR wrong number of arguments for 'incr' command\r\n");
  });

  it('maps store errors to Redis error replies', async () => {
    const failing = (code: KvError['code']): KvApi => {
      const kv = new MemoryKv({ clock: new ManualClock() });
      kv.get = async () => {
        throw new KvError(code, 'only 1 of 2 replicas answered');
      };
      return kv;
    };
    assert.equal(
      await harness({ kv: failing('TIMEOUT') }).run('GET', 'k'),
      '-TIMEOUT only 1 of 2 replicas answered\r\n',
    );
    assert.equal(
      await harness({ kv: failing('UNAVAILABLE') }).run('GET', 'k'),
      '-UNAVAILABLE only 1 of 2 replicas answered\r\n',
    );
    assert.equal(
      await harness({ kv: failing('DENIED') }).run('GET', 'k'),
      '-NOPERM only 1 of 2 replicas answered\r\n',
    );
    assert.equal(
      await harness({ kv: failing('INVALID_ARGUMENT') }).run('GET', 'k'),
      '-ERR only 1 of 2 replicas answered\r\n',
    );
    const broken = new MemoryKv({ clock: new ManualClock() });
    broken.get = async () => {
      throw new TypeError('bug');
    };
    assert.equal(
      await harness({ kv: broken }).run('GET', 'k'),
      '-ERR internal error; the server log has the details\r\n',
    );
    assert.equal(await harness().run('SET', '', 'v'), '-ERR a key must not be empty\r\n');
  });

  it('CAIRN CONSISTENCY sets the levels the store calls get', async () => {
    const levels: string[] = [];
    const kv = new MemoryKv({ clock: new ManualClock() });
    const get = kv.get.bind(kv);
    const put = kv.put.bind(kv);
    kv.get = (k, o) => {
      levels.push(`r:${o?.consistency}`);
      return get(k, o);
    };
    kv.put = (k, v, o) => {
      levels.push(`w:${o?.consistency}`);
      return put(k, v, o);
    };
    const { run } = harness({ kv });
    assert.equal(
      await run('CAIRN', 'CONSISTENCY'),
      '*4\r\n$4\r\nread\r\n$6\r\nQUORUM\r\n$5\r\nwrite\r\n$6\r\nQUORUM\r\n',
    );
    assert.equal(await run('CAIRN', 'consistency', 'one'), '+OK\r\n');
    await run('SET', 'k', 'v');
    await run('GET', 'k');
    assert.equal(await run('CAIRN', 'CONSISTENCY', 'READ', 'ALL', 'WRITE', 'QUORUM'), '+OK\r\n');
    await run('SET', 'k', 'v');
    await run('GET', 'k');
    assert.equal(await run('CAIRN', 'CONSISTENCY', 'WRITE', 'ONE'), '+OK\r\n');
    assert.equal(
      await run('CAIRN', 'CONSISTENCY'),
      '*4\r\n$4\r\nread\r\n$3\r\nALL\r\n$5\r\nwrite\r\n$3\r\nONE\r\n',
    );
    assert.deepEqual(levels, ['w:ONE', 'r:ONE', 'w:QUORUM', 'r:ALL']);
    assert.equal(
      await run('CAIRN', 'CONSISTENCY', 'TWO'),
      "-ERR unknown consistency level 'TWO' (ONE, QUORUM or ALL)\r\n",
    );
    assert.equal(await run('CAIRN', 'CONSISTENCY', 'READ'), '-ERR syntax error\r\n');
    assert.equal(await run('CAIRN', 'NOPE'), "-ERR unknown subcommand 'NOPE'. Try CAIRN HELP.\r\n");
  });

  it('CAIRN RING answers [rf, [[name, resp, status, [tokens]]]]', async () => {
    const { run } = harness();
    assert.equal(
      await run('CAIRN', 'RING'),
      '*2\r\n:1\r\n*1\r\n*4\r\n$2\r\nn1\r\n$14\r\n127.0.0.1:7000\r\n$6\r\nnormal\r\n*1\r\n$1\r\n0\r\n',
    );
  });

  it('HELLO switches protocol, CLIENT commands, COMMAND, INFO and CONFIG GET', async () => {
    const { run, session } = harness();
    assert.equal(await run('HELLO', '4'), '-NOPROTO unsupported protocol version\r\n');
    assert.equal(await run('HELLO', 'x'), '-ERR Protocol version is not an integer or out of range\r\n');
    assert.equal(await run('HELLO', '3', 'BOGUS'), "-ERR Syntax error in HELLO option 'BOGUS'\r\n");
    const hello = await run('HELLO', '3', 'SETNAME', 'app');
    assert.ok(hello.startsWith('%7\r\n$6\r\nserver\r\n'), hello);
    assert.match(hello, /\$5\r\nproto\r\n:3\r\n/);
    assert.equal(session.proto, 3);
    assert.equal(await run('GET', 'nothing'), '_\r\n');
    assert.equal(await run('CLIENT', 'GETNAME'), '$3\r\napp\r\n');
    assert.equal(
      await run('CLIENT', 'SETNAME', 'a b'),
      '-ERR Client names cannot contain spaces, newlines or special characters.\r\n',
    );
    assert.equal(await run('CLIENT', 'ID'), ':1\r\n');
    assert.equal(await run('CLIENT', 'SETINFO', 'lib-name', 'ioredis'), '+OK\r\n');
    assert.match(
      await run('CLIENT', 'INFO'),
      /id=1 addr=127\.0\.0\.1:5000 .*name=app .*lib-name=ioredis .*resp=3/,
    );
    assert.equal(await run('CLIENT', 'NOPE'), "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n");
    assert.equal(
      await run('CLIENT', 'ID', 'x'),
      "-ERR wrong number of arguments for 'client|id' command\r\n",
    );
    assert.equal(await run('COMMAND', 'COUNT'), `:${commandTable().size}\r\n`);
    assert.match(
      await run('COMMAND', 'INFO', 'get'),
      /^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n~2\r\n\+readonly\r\n\+fast\r\n:1\r\n:1\r\n:1\r\n/,
    );
    assert.match(await run('COMMAND', 'DOCS', 'set'), /^%1\r\n\$3\r\nset\r\n%3\r\n\$7\r\nsummary\r\n/);
    assert.equal(await run('CONFIG', 'GET', 'save'), '%1\r\n$4\r\nsave\r\n$0\r\n\r\n');
    assert.equal(await run('CONFIG', 'GET', 'append*'), '%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n');
    assert.equal(await run('HELLO', '2'), (await run('HELLO', '2')).replace(':3', ':2'));
    const info = await run('INFO');
    assert.match(info, /^\$\d+\r\n# Server\r\nredis_version:7\.0\.0\r\n/);
    assert.match(info, /# Persistence\r\nloading:0\r\n/);
    assert.match(info, /# Cairn\r\nring_rf:1\r\nring_nodes:1\r\nhints_pending:3\r\n/);
    assert.doesNotMatch(await run('INFO', 'server'), /Keyspace/);
  });

  it('QUIT asks the connection to close after the reply', async () => {
    const { run, session } = harness();
    assert.equal(await run('QUIT'), '+OK\r\n');
    assert.equal(session.closeAfterReply, true);
  });
});

describe('RESP commands with auth', () => {
  const token = (caveats: Parameters<typeof mintToken>[1] = {}) => formatToken(mintToken(ROOT, caveats));

  it('needs AUTH before anything but HELLO, AUTH and QUIT', async () => {
    const { run, session } = harness({ auth: true });
    assert.equal(await run('GET', 'k'), '-NOAUTH Authentication required.\r\n');
    assert.equal(await run('PING'), '-NOAUTH Authentication required.\r\n');
    assert.match(
      await run('HELLO', '3'),
      /^-NOAUTH HELLO must be called with the client already authenticated/,
    );
    assert.equal(
      await run('AUTH', 'nonsense'),
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
    );
    const forged = formatToken(mintToken(new Uint8Array(32).fill(9)));
    assert.equal(
      await run('AUTH', forged),
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
    );
    const otherAudience = token({ caveats: [{ type: 'audience', audiences: ['etcd'] }] });
    assert.equal(
      await run('AUTH', otherAudience),
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
    );
    assert.equal(session.authenticated, false);
    assert.equal(await run('AUTH', 'default', token()), '+OK\r\n');
    assert.equal(await run('SET', 'k', 'v'), '+OK\r\n');
    assert.equal(await run('GET', 'k'), '$1\r\nv\r\n');
  });

  it('HELLO AUTH authenticates and switches protocol at once', async () => {
    const { run, session } = harness({ auth: true });
    assert.match(await run('HELLO', '3', 'AUTH', 'default', token()), /^%7\r\n/);
    assert.equal(session.proto, 3);
    assert.equal(await run('PING'), '+PONG\r\n');
  });

  it('enforces read-only and prefix tokens', async () => {
    const { run, kv } = harness({ auth: true });
    await kv.put(Buffer.from('app/a'), Buffer.from('1'));
    await kv.put(Buffer.from('other'), Buffer.from('2'));
    const readOnly = token({ caveats: [{ type: 'ops', ops: ['kv:read'] }] });
    assert.equal(await run('AUTH', readOnly), '+OK\r\n');
    assert.equal(await run('GET', 'other'), '$1\r\n2\r\n');
    assert.match(await run('SET', 'other', 'x'), /^-NOPERM .*operation/);
    assert.match(await run('DEL', 'other'), /^-NOPERM /);
    assert.equal(await run('CAIRN', 'CONSISTENCY', 'ONE'), '+OK\r\n');

    const prefixed = token({ caveats: [{ type: 'prefix', prefix: 'app/' }] });
    assert.equal(await run('AUTH', prefixed), '+OK\r\n');
    assert.equal(await run('GET', 'app/a'), '$1\r\n1\r\n');
    assert.match(await run('GET', 'other'), /^-NOPERM /);
    assert.match(await run('MGET', 'app/a', 'other'), /^-NOPERM /);
    assert.equal(await run('SET', 'app/b', 'x'), '+OK\r\n');
    // SCAN with a prefix token sees only its keys.
    const scan = await run('SCAN', '0', 'COUNT', '100');
    assert.match(scan, /app\/a/);
    assert.doesNotMatch(scan, /other/);
    assert.match(await run('DBSIZE'), /^:/);

    const writeOnly = token({ caveats: [{ type: 'ops', ops: ['kv:write'] }] });
    assert.equal(await run('AUTH', writeOnly), '+OK\r\n');
    assert.equal(await run('SET', 'k', 'v'), '+OK\r\n');
    assert.match(await run('SET', 'k', 'v', 'GET'), /^-NOPERM /);
    assert.match(await run('CAIRN', 'RING'), /^-NOPERM /);
  });

  it('refuses a token that expired after AUTH', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { run } = harness({ auth: true, clock });
    const shortLived = token({ caveats: [{ type: 'expires', atMs: clock.now() + 1000 }] });
    assert.equal(await run('AUTH', shortLived), '+OK\r\n');
    assert.equal(await run('SET', 'k', 'v'), '+OK\r\n');
    clock.advance(1000);
    assert.match(await run('GET', 'k'), /^-NOPERM .*expired/);
  });
});

describe('specOf', () => {
  it('finds every command from its name in any ASCII case, and nothing else', () => {
    for (const [name, spec] of commandTable()) {
      const mixed = [...name].map((ch, i) => (i % 2 === 0 ? ch.toUpperCase() : ch)).join('');
      for (const variant of [name, name.toUpperCase(), mixed])
        assert.equal(specOf(Buffer.from(variant, 'latin1')), spec, variant);
      assert.equal(specOf(Buffer.from(`${name}x`, 'latin1')), undefined);
      assert.equal(specOf(Buffer.from(name.slice(1), 'latin1')), commandTable().get(name.slice(1)));
    }
    // Case folding is ASCII only, as Redis's strcasecmp: a latin1 capital never matches.
    assert.equal(specOf(Buffer.from([0x53, 0x45, 0xd4])), undefined); // 'SE' + 'Ô'
    assert.equal(specOf(Buffer.from([0x73, 0x65, 0x74 - 0x20 + 0x80])), undefined);
    assert.equal(specOf(Buffer.alloc(0)), undefined);
    assert.equal(specOf(Buffer.from('nosuchcommand')), undefined);
  });
});
