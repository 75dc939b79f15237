import { array, bulk, errorReply, intReply, map, NULL, OK, PONG, type Reply, simple } from '../reply.js';
import { is, NOT_INTEGER, nowMs, parseInteger, SYNTAX_ERROR, text, wrongArity } from './args.js';
import type { CommandContext, CommandSpec, Session } from './context.js';

/** The connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT. */

/** The Redis version this front end answers as (HELLO, INFO): the command set it follows. */
export const REDIS_COMPAT_VERSION = '7.0.0';

const WRONGPASS = errorReply('WRONGPASS invalid username-password pair or user is disabled.');

function ping(_ctx: CommandContext, args: readonly Buffer[]): Reply {
  if (args.length > 2) return wrongArity('ping');
  return args.length === 2 ? bulk(args[1]!) : PONG;
}

function echo(_ctx: CommandContext, args: readonly Buffer[]): Reply {
  return bulk(args[1]!);
}

function quit(ctx: CommandContext): Reply {
  ctx.session.closeAfterReply = true;
  return OK;
}

function select(_ctx: CommandContext, args: readonly Buffer[]): Reply {
  const db = parseInteger(args[1]!);
  if (db === undefined) return NOT_INTEGER;
  return db === 0 ? OK : errorReply('ERR DB index is out of range');
}

/** Checks `password` and marks the session authenticated; the error reply when it fails. */
function login(ctx: CommandContext, password: Buffer): Reply | undefined {
  const auth = ctx.server.auth;
  if (auth === undefined) return undefined;
  const credential = auth.authenticate(text(password));
  if (credential === undefined) return WRONGPASS;
  ctx.session.credential = credential;
  ctx.session.authenticated = true;
  return undefined;
}

function authCommand(ctx: CommandContext, args: readonly Buffer[]): Reply {
  if (args.length > 3) return SYNTAX_ERROR;
  if (ctx.server.auth === undefined) {
    // Redis's default user has no password: AUTH <password> is a misconfiguration, AUTH default x works.
    if (args.length === 2)
      return errorReply(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    return OK;
  }
  return login(ctx, args[args.length - 1]!) ?? OK;
}

/** CLIENT SETNAME's rule: printable ASCII without spaces. */
function validName(name: Buffer): boolean {
  for (const c of name) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

function setName(ctx: CommandContext, name: Buffer): Reply | undefined {
  if (!validName(name))
    return errorReply('ERR Client names cannot contain spaces, newlines or special characters.');
  if (name.length > ctx.server.limits.maxClientNameChars)
    return errorReply(`ERR Client names are limited to ${ctx.server.limits.maxClientNameChars} characters`);
  ctx.session.name = text(name);
  return undefined;
}

const HELLO_NOAUTH = errorReply(
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
);

function hello(ctx: CommandContext, args: readonly Buffer[]): Reply {
  let proto = ctx.session.proto;
  if (args.length >= 2) {
    const v = parseInteger(args[1]!);
    if (v === undefined) return errorReply('ERR Protocol version is not an integer or out of range');
    if (v !== 2 && v !== 3) return errorReply('NOPROTO unsupported protocol version');
    proto = v;
  }
  let password: Buffer | undefined;
  let name: Buffer | undefined;
  for (let i = 2; i < args.length; i++) {
    const more = args.length - i - 1;
    if (is(args[i]!, 'auth') && more >= 2) {
      password = args[i + 2]!;
      i += 2;
    } else if (is(args[i]!, 'setname') && more >= 1) {
      name = args[i + 1]!;
      i += 1;
    } else return errorReply(`ERR Syntax error in HELLO option '${text(args[i]!)}'`);
  }
  if (password !== undefined) {
    const failed = login(ctx, password);
    if (failed !== undefined) return failed;
  }
  if (!ctx.session.authenticated) return HELLO_NOAUTH;
  if (name !== undefined) {
    const bad = setName(ctx, name);
    if (bad !== undefined) return bad;
  }
  ctx.session.proto = proto;
  return map([
    [bulk('server'), bulk('redis')],
    [bulk('version'), bulk(REDIS_COMPAT_VERSION)],
    [bulk('proto'), intReply(proto)],
    [bulk('id'), intReply(ctx.session.id)],
    [bulk('mode'), bulk('standalone')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), array([])],
  ]);
}

/** One CLIENT LIST / CLIENT INFO line, Redis's fields that mean something here. */
export function clientLine(s: Session, now: number): string {
  const age = Math.max(0, Math.floor((now - s.createdAt) / 1000));
  const idle = Math.max(0, Math.floor((now - s.lastCommandAt) / 1000));
  return `id=${s.id} addr=${s.addr} laddr=${s.laddr} name=${s.name} age=${age} idle=${idle} flags=N db=0 cmd=${s.lastCommand} user=default lib-name=${s.libName} lib-ver=${s.libVersion} resp=${s.proto}`;
}

const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'LIST',
  '    Return information about client connections.',
  'SETINFO <option> <value>',
  '    Set client meta attr. Options are: LIB-NAME, LIB-VER.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'HELP',
  '    Print this help.',
];

function client(ctx: CommandContext, args: readonly Buffer[]): Reply {
  const sub = args[1]!;
  const s = ctx.session;
  const arity = (n: number) => args.length === n;
  const wrong = () => wrongArity(`client|${text(sub).toLowerCase()}`);
  if (is(sub, 'id')) return arity(2) ? intReply(s.id) : wrong();
  if (is(sub, 'getname')) return arity(2) ? (s.name === '' ? NULL : bulk(s.name)) : wrong();
  if (is(sub, 'setname')) {
    if (!arity(3)) return wrong();
    return setName(ctx, args[2]!) ?? OK;
  }
  if (is(sub, 'setinfo')) {
    if (!arity(4)) return wrong();
    const value = args[3]!;
    if (!validName(value) && value.length > 0)
      return errorReply(`ERR ${text(args[2]!)} cannot contain spaces, newlines or special characters.`);
    const v = text(value).slice(0, ctx.server.limits.maxClientNameChars);
    if (is(args[2]!, 'lib-name')) s.libName = v;
    else if (is(args[2]!, 'lib-ver')) s.libVersion = v;
    else return errorReply(`ERR Unrecognized option '${text(args[2]!)}'`);
    return OK;
  }
  const now = nowMs(ctx.server.clock);
  if (is(sub, 'info')) return arity(2) ? bulk(`${clientLine(s, now)}\n`) : wrong();
  if (is(sub, 'list')) {
    if (!arity(2)) return SYNTAX_ERROR;
    let out = '';
    for (const other of ctx.server.sessions()) out += `${clientLine(other, now)}\n`;
    return bulk(out);
  }
  if (is(sub, 'help')) return array(CLIENT_HELP.map((l) => simple(l)));
  return errorReply(`ERR unknown subcommand '${text(sub).slice(0, 128)}'. Try CLIENT HELP.`);
}

function connectionSpec(
  name: string,
  arity: number,
  summary: string,
  run: CommandSpec['run'],
  extra: Partial<CommandSpec> = {},
): CommandSpec {
  return {
    name,
    arity,
    flags: ['fast', 'loading', 'stale'],
    keys: [0, 0, 0],
    access: 'none',
    group: 'connection',
    since: '1.0.0',
    summary,
    run,
    ...extra,
  };
}

/** The connection commands' table entries. */
export const CONNECTION_COMMANDS: readonly CommandSpec[] = [
  connectionSpec('ping', -1, "Returns the server's liveliness response.", ping),
  connectionSpec('echo', 2, 'Returns the given string.', echo),
  connectionSpec('quit', -1, 'Closes the connection.', quit, { noAuth: true }),
  connectionSpec('select', 2, 'Changes the selected database (only 0 exists).', select),
  connectionSpec(
    'auth',
    -2,
    'Authenticates the connection (the password is a Cairn capability token).',
    authCommand,
    {
      noAuth: true,
      flags: ['noscript', 'loading', 'stale', 'fast', 'no-auth'],
    },
  ),
  connectionSpec('hello', -1, 'Handshakes with the server.', hello, {
    noAuth: true,
    since: '6.0.0',
    flags: ['noscript', 'loading', 'stale', 'fast', 'no-auth'],
  }),
  connectionSpec('client', -2, 'A container for client connection commands.', client, { since: '2.4.0' }),
];
