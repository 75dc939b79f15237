import { KvError } from '../../errors.js';
import { Glob } from '../glob.js';
import { array, bulk, errorReply, intReply, map, NULL, OK, type Reply, simple } from '../reply.js';
import { is, parseConsistency, SYNTAX_ERROR, text } from './args.js';
import { REDIS_COMPAT_VERSION } from './connection.js';
import type { CommandContext, CommandSpec } from './context.js';

/** The server commands: COMMAND, INFO, CONFIG GET, and Cairn's own CAIRN CONSISTENCY / RING. */

/** COMMAND's reply for one command (Redis 7's ten-field entry). */
function commandInfo(c: CommandSpec, parent?: string): Reply {
  const name = parent === undefined ? c.name : `${parent}|${c.name}`;
  return array([
    bulk(name),
    intReply(c.arity),
    { type: 'set', items: c.flags.map((f) => simple(f)) },
    intReply(c.keys[0]),
    intReply(c.keys[1]),
    intReply(c.keys[2]),
    { type: 'set', items: [simple(`@${c.group}`)] },
    array([]),
    array([]),
    array((c.subcommands ?? []).map((s) => commandInfo(s, c.name))),
  ]);
}

/** COMMAND DOCS's reply for one command. */
function commandDocs(c: CommandSpec): Reply {
  const fields: [Reply, Reply][] = [
    [bulk('summary'), bulk(c.summary)],
    [bulk('since'), bulk(c.since)],
    [bulk('group'), bulk(c.group)],
  ];
  if (c.subcommands !== undefined && c.subcommands.length > 0)
    fields.push([
      bulk('subcommands'),
      map(c.subcommands.map((s) => [bulk(`${c.name}|${s.name}`), commandDocs(s)] as const)),
    ]);
  return map(fields);
}

function commandCommand(table: () => ReadonlyMap<string, CommandSpec>) {
  return (_ctx: CommandContext, args: readonly Buffer[]): Reply => {
    const all = table();
    if (args.length === 1) return array([...all.values()].map((c) => commandInfo(c)));
    const sub = args[1]!;
    const named = (from: number) => args.slice(from).map((a) => all.get(text(a).toLowerCase()));
    if (is(sub, 'count')) return args.length === 2 ? intReply(all.size) : wrongSub('count');
    if (is(sub, 'info'))
      return array(
        args.length === 2
          ? [...all.values()].map((c) => commandInfo(c))
          : named(2).map((c) => (c === undefined ? NULL : commandInfo(c))),
      );
    if (is(sub, 'docs')) {
      const chosen = args.length === 2 ? [...all.values()] : named(2).filter((c) => c !== undefined);
      return map(chosen.map((c) => [bulk(c.name), commandDocs(c)] as const));
    }
    if (is(sub, 'list')) return array([...all.keys()].map((n) => bulk(n)));
    if (is(sub, 'help'))
      return array(
        [
          'COMMAND [<subcommand>]',
          'COUNT',
          'DOCS [<command-name> ...]',
          'INFO [<command-name> ...]',
          'LIST',
        ].map((l) => simple(l)),
      );
    return errorReply(`ERR unknown subcommand '${text(sub).slice(0, 128)}'. Try COMMAND HELP.`);
  };
}

function wrongSub(name: string): Reply {
  return errorReply(`ERR wrong number of arguments for 'command|${name}' command`);
}

const DEFAULT_SECTIONS = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'keyspace',
  'cairn',
];

async function info(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const asked = args.slice(1).map((a) => text(a).toLowerCase());
  const all = asked.length === 0 || asked.some((s) => s === 'all' || s === 'default' || s === 'everything');
  const sections = all ? DEFAULT_SECTIONS : DEFAULT_SECTIONS.filter((s) => asked.includes(s));
  const srv = ctx.server;
  const now = srv.clock.now();
  const blocks: string[] = [];
  let open = 0;
  for (const _ of srv.sessions()) open++;
  for (const section of sections) {
    const lines: [string, string | number][] = [];
    switch (section) {
      case 'server':
        lines.push(
          ['redis_version', REDIS_COMPAT_VERSION],
          ['redis_mode', 'standalone'],
          ['cairn_front_end', 'resp'],
          ['os', `${process.platform} ${process.arch}`],
          ['arch_bits', 64],
          ['process_id', process.pid],
          ['tcp_port', srv.port],
          ['uptime_in_seconds', Math.floor((now - srv.startedAt) / 1000)],
        );
        break;
      case 'clients':
        lines.push(
          ['connected_clients', open],
          ['maxclients', srv.limits.maxConnections],
          ['blocked_clients', 0],
        );
        break;
      case 'memory': {
        const m = process.memoryUsage();
        lines.push(['used_memory', m.heapUsed], ['used_memory_rss', m.rss], ['maxmemory', 0]);
        break;
      }
      case 'persistence':
        lines.push(['loading', 0], ['aof_enabled', 0]);
        break;
      case 'stats':
        lines.push(
          ['total_connections_received', srv.stats.connectionsAccepted],
          ['total_commands_processed', srv.stats.commandsProcessed],
          ['rejected_connections', srv.stats.connectionsRejected],
          ['total_net_input_bytes', srv.stats.bytesIn],
          ['total_net_output_bytes', srv.stats.bytesOut],
          ['total_error_replies', srv.stats.errorReplies],
        );
        break;
      case 'replication':
        lines.push(['role', 'master'], ['connected_slaves', 0]);
        break;
      case 'keyspace': {
        const keys = await srv.kv.approximateSize();
        if (keys > 0) lines.push(['db0', `keys=${keys},expires=0,avg_ttl=0`]);
        break;
      }
      case 'cairn': {
        const ring = srv.kv.ring();
        lines.push(['ring_rf', ring.rf], ['ring_nodes', ring.nodes.length]);
        for (const [k, v] of Object.entries(srv.info?.() ?? {})) lines.push([k.replace(/[^\w.-]/g, '_'), v]);
        break;
      }
    }
    const title = section.charAt(0).toUpperCase() + section.slice(1);
    blocks.push(
      `# ${title}\r\n${lines.map(([k, v]) => `${k}:${String(v).replace(/[\r\n]/g, ' ')}\r\n`).join('')}`,
    );
  }
  return { type: 'verbatim', format: 'txt', text: blocks.join('\r\n') };
}

/** CONFIG GET's fixed parameters: what clients and redis-benchmark ask about. */
function configValues(ctx: CommandContext): [string, string][] {
  const l = ctx.server.limits;
  return [
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['maxclients', String(l.maxConnections)],
    ['timeout', String(Math.floor(l.idleTimeoutMs / 1000))],
    ['proto-max-bulk-len', String(l.maxBulkBytes)],
    ['client-query-buffer-limit', String(l.maxQueryBufferBytes)],
    ['maxmemory', '0'],
    ['port', String(ctx.server.port)],
    ['cluster-enabled', 'no'],
  ];
}

function config(ctx: CommandContext, args: readonly Buffer[]): Reply {
  const sub = args[1]!;
  if (is(sub, 'get')) {
    if (args.length < 3) return errorReply("ERR wrong number of arguments for 'config|get' command");
    const globs = args.slice(2).map((a) => new Glob(text(a).toLowerCase()));
    const hits = configValues(ctx).filter(([name]) => globs.some((g) => g.matches(name)));
    return map(hits.map(([k, v]) => [bulk(k), bulk(v)] as const));
  }
  if (is(sub, 'help'))
    return array(
      [
        'CONFIG <subcommand>',
        'GET <pattern>',
        '    Return parameters matching the glob-like <pattern> and their values.',
      ].map((l) => simple(l)),
    );
  if (is(sub, 'set') || is(sub, 'rewrite') || is(sub, 'resetstat'))
    return errorReply(
      `ERR CONFIG ${text(sub).toUpperCase()} is not supported: a Cairn node is configured through its agent config`,
    );
  return errorReply(`ERR unknown subcommand '${text(sub).slice(0, 128)}'. Try CONFIG HELP.`);
}

/** CAIRN CONSISTENCY [READ <level>] [WRITE <level>] | CAIRN CONSISTENCY <level>. */
function consistency(ctx: CommandContext, args: readonly Buffer[]): Reply {
  const s = ctx.session;
  if (args.length === 2)
    return array([bulk('read'), bulk(s.readConsistency), bulk('write'), bulk(s.writeConsistency)]);
  if (args.length === 3) {
    if (is(args[2]!, 'read') || is(args[2]!, 'write')) return SYNTAX_ERROR;
    const level = parseConsistency(args[2]!);
    s.readConsistency = level;
    s.writeConsistency = level;
    return OK;
  }
  if (args.length % 2 !== 0 || args.length > 6) return SYNTAX_ERROR;
  let read = s.readConsistency;
  let write = s.writeConsistency;
  for (let i = 2; i < args.length; i += 2) {
    if (is(args[i]!, 'read')) read = parseConsistency(args[i + 1]!);
    else if (is(args[i]!, 'write')) write = parseConsistency(args[i + 1]!);
    else return SYNTAX_ERROR;
  }
  s.readConsistency = read;
  s.writeConsistency = write;
  return OK;
}

/** CAIRN RING: `[rf, [[name, resp-or-empty, status, [token...]], ...]]`. */
function ring(ctx: CommandContext): Reply {
  const r = ctx.server.kv.ring();
  return array([
    intReply(r.rf),
    array(
      r.nodes.map((n) =>
        array([
          bulk(n.name),
          bulk(n.resp ?? ''),
          bulk(n.status),
          array(n.tokens.map((t) => bulk(t.toString()))),
        ]),
      ),
    ),
  ]);
}

function cairn(ctx: CommandContext, args: readonly Buffer[]): Reply {
  const sub = args[1]!;
  if (is(sub, 'consistency')) return consistency(ctx, args);
  if (is(sub, 'ring')) {
    if (args.length !== 2) return errorReply("ERR wrong number of arguments for 'cairn|ring' command");
    if (ctx.session.credential !== undefined && ctx.server.auth !== undefined) {
      const denied = ctx.server.auth.denial(ctx.session.credential, 'kv:read', undefined);
      if (denied !== undefined) throw new KvError('DENIED', denied);
    }
    return ring(ctx);
  }
  if (is(sub, 'help'))
    return array(
      [
        'CAIRN <subcommand>. Subcommands are:',
        'CONSISTENCY',
        "    Return this connection's read and write consistency levels.",
        'CONSISTENCY <level> | CONSISTENCY [READ <level>] [WRITE <level>]',
        '    Set them (ONE, QUORUM or ALL).',
        'RING',
        '    Return [rf, [[name, resp address, status, [tokens...]], ...]] as this node sees the ring.',
      ].map((l) => simple(l)),
    );
  return errorReply(`ERR unknown subcommand '${text(sub).slice(0, 128)}'. Try CAIRN HELP.`);
}

/** The server commands' table entries; COMMAND lists `table()`. */
export function serverCommands(table: () => ReadonlyMap<string, CommandSpec>): CommandSpec[] {
  const base = { keys: [0, 0, 0] as const, access: 'none' as const, group: 'server', since: '2.8.13' };
  return [
    {
      ...base,
      name: 'command',
      arity: -1,
      flags: ['loading', 'stale'],
      summary: 'Returns detailed information about all commands.',
      run: commandCommand(table),
    },
    {
      ...base,
      name: 'info',
      arity: -1,
      flags: ['loading', 'stale'],
      since: '1.0.0',
      summary: 'Returns information and statistics about the server.',
      run: info,
    },
    {
      ...base,
      name: 'config',
      arity: -2,
      flags: ['loading', 'stale'],
      since: '2.0.0',
      summary: 'A container for server configuration commands.',
      run: config,
    },
    {
      ...base,
      name: 'cairn',
      arity: -2,
      flags: ['fast'],
      since: '7.0.0',
      group: 'cairn',
      summary: "Cairn's own commands: the connection's consistency levels and the ring.",
      run: cairn,
    },
  ];
}
