import { isKvError } from '../../errors.js';
import type { KvOp } from '../auth.js';
import { errorReply, type Reply } from '../reply.js';
import { arityOk, wrongArity } from './args.js';
import { CONNECTION_COMMANDS } from './connection.js';
import type { CommandContext, CommandSpec } from './context.js';
import { KEY_COMMANDS } from './keys.js';
import { serverCommands } from './server.js';

/**
 * The command table and the dispatcher every command goes through: lookup, arity, authentication
 * and authorization, then the handler, whose failures become error replies.
 *
 * Contract: {@link dispatch} never throws and never rejects; any error a handler or the store
 * raises is answered (KvError: its code as the reply's first word, DENIED as NOPERM,
 * INVALID_ARGUMENT as ERR; anything else `ERR internal error`, logged). The connection runs
 * commands through {@link execute} with a spec it already looked up and answers a rejection
 * with {@link errorFor} itself, which is what `dispatch` does.
 */

let table: Map<string, CommandSpec> | undefined;
/**
 * The same commands by {@link nameHash} of their name, each with its name's bytes: a command is
 * found from the bytes the client sent, without making a string of them (once per request).
 */
let byHash: Map<number, { readonly name: Uint8Array; readonly spec: CommandSpec }[]> | undefined;

/** Every command by lowercase name. */
export function commandTable(): ReadonlyMap<string, CommandSpec> {
  if (table === undefined) {
    table = new Map();
    for (const c of [...CONNECTION_COMMANDS, ...KEY_COMMANDS, ...serverCommands(commandTable)])
      table.set(c.name, c);
  }
  return table;
}

/** ASCII lowercase of one byte (Redis matches command names with strcasecmp). */
function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

/** A hash of a name's ASCII-lowercased bytes: equal for names that differ only in ASCII case. */
function nameHash(name: Uint8Array): number {
  let h = name.length;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + lower(name[i]!)) | 0;
  return h;
}

/** The command named by `name` (the bytes as sent, in any ASCII case), or undefined. */
export function specOf(name: Uint8Array): CommandSpec | undefined {
  if (byHash === undefined) {
    byHash = new Map();
    for (const spec of commandTable().values()) {
      const bytes = Buffer.from(spec.name, 'latin1');
      const h = nameHash(bytes);
      const list = byHash.get(h);
      if (list === undefined) byHash.set(h, [{ name: bytes, spec }]);
      else list.push({ name: bytes, spec });
    }
  }
  const candidates = byHash.get(nameHash(name));
  if (candidates === undefined) return undefined;
  for (const c of candidates) {
    if (c.name.length !== name.length) continue;
    let i = 0;
    while (i < name.length && lower(name[i]!) === c.name[i]) i++;
    if (i === name.length) return c.spec;
  }
  return undefined;
}

const NOAUTH = errorReply('NOAUTH Authentication required.');

/** Redis's reply to an unknown command: its name and its first arguments, 128 characters each at most. */
export function unknownCommand(args: readonly Buffer[]): Reply {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++)
    rest += `'${args[i]!.toString('utf8').slice(0, 128 - rest.length)}' `;
  return errorReply(
    `ERR unknown command '${args[0]!.toString('utf8').slice(0, 128)}', with args beginning with: ${rest}`,
  );
}

/** The error reply for an exception out of a handler or the store. */
export function errorFor(err: unknown, ctx: CommandContext): Reply {
  if (isKvError(err)) {
    if (err.code === 'DENIED') return errorReply(`NOPERM ${err.message}`);
    if (err.code === 'INVALID_ARGUMENT') return errorReply(`ERR ${err.message}`);
    return errorReply(`${err.code} ${err.message}`);
  }
  ctx.server.logger?.error({ err, command: ctx.session.lastCommand }, 'resp command failed');
  return errorReply('ERR internal error; the server log has the details');
}

/** Keys of a command by its spec's (first, last, step). */
function keysOf(spec: CommandSpec, args: readonly Buffer[]): Buffer[] {
  const [first, lastSpec, step] = spec.keys;
  if (first === 0) return [];
  const last = lastSpec < 0 ? args.length + lastSpec : lastSpec;
  const out: Buffer[] = [];
  for (let i = first; i <= last && i < args.length; i += step) out.push(args[i]!);
  return out;
}

/**
 * What a pipelined command must wait for so that one connection's commands take effect in the
 * order sent, as Redis runs them: the keys it touches (it waits for earlier commands on any of
 * them), `'all'` for a command that reads the whole keyspace (SCAN, DBSIZE: it waits for every
 * earlier command), or none (connection and server commands, unknown commands: answered at once).
 */
export function orderingOf(
  spec: CommandSpec | undefined,
  args: readonly Buffer[],
): Buffer[] | 'all' | undefined {
  if (spec === undefined || spec.access === 'none') return undefined;
  if (spec.keyless === true) return 'all';
  const keys = keysOf(spec, args);
  return keys.length === 0 ? undefined : keys;
}

/** Why the session's token may not run this command, or undefined. */
function denial(ctx: CommandContext, spec: CommandSpec, args: readonly Buffer[]): string | undefined {
  const auth = ctx.server.auth;
  const credential = ctx.session.credential;
  if (auth === undefined || credential === undefined) return undefined;
  const keys = spec.keyless === true ? undefined : keysOf(spec, args);
  // A plain SET writes blind; its options (NX, XX, GET, KEEPTTL) read first.
  const access = spec.name === 'set' && args.length === 3 ? 'write' : spec.access;
  const ops: (KvOp | undefined)[] =
    access === 'none'
      ? [undefined]
      : access === 'read'
        ? ['kv:read']
        : access === 'write'
          ? ['kv:write']
          : ['kv:read', 'kv:write'];
  for (const op of ops) {
    const reason = auth.denial(credential, op, op === undefined ? undefined : keys);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** Runs one command; see the module comment. */
export function dispatch(ctx: CommandContext, args: readonly Buffer[]): Reply | Promise<Reply> {
  const out = execute(ctx, specOf(args[0]!), args);
  return out instanceof Promise ? out.catch((err: unknown) => errorFor(err, ctx)) : out;
}

/**
 * {@link dispatch} for a command already looked up (`spec`: `specOf(args[0])`), except that its
 * promise may reject: the caller answers a rejection with {@link errorFor} (one promise less per
 * request than chaining a catch here). Never throws.
 */
export function execute(
  ctx: CommandContext,
  spec: CommandSpec | undefined,
  args: readonly Buffer[],
): Reply | Promise<Reply> {
  if (spec === undefined) return unknownCommand(args);
  if (!arityOk(spec.arity, args.length)) return wrongArity(spec.name);
  ctx.session.lastCommand = spec.name;
  if (!ctx.session.authenticated && spec.noAuth !== true) return NOAUTH;
  try {
    const reason = denial(ctx, spec, args);
    if (reason !== undefined) return errorReply(`NOPERM ${reason}`);
    return spec.run(ctx, args);
  } catch (err) {
    return errorFor(err, ctx);
  }
}
