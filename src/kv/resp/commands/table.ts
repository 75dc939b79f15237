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
 * INVALID_ARGUMENT as ERR; anything else `ERR internal error`, logged).
 */

let table: Map<string, CommandSpec> | undefined;
/** The same commands by uppercase name: clients send one case or the other, so most lookups hit without lowercasing. */
let upperTable: Map<string, CommandSpec> | undefined;

/** Every command by lowercase name. */
export function commandTable(): ReadonlyMap<string, CommandSpec> {
  if (table === undefined) {
    table = new Map();
    for (const c of [...CONNECTION_COMMANDS, ...KEY_COMMANDS, ...serverCommands(commandTable)])
      table.set(c.name, c);
  }
  return table;
}

function lookup(name: string): CommandSpec | undefined {
  const all = commandTable();
  if (upperTable === undefined) upperTable = new Map([...all].map(([k, v]) => [k.toUpperCase(), v]));
  return all.get(name) ?? upperTable.get(name) ?? all.get(name.toLowerCase());
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
export function orderingOf(args: readonly Buffer[]): Buffer[] | 'all' | undefined {
  const spec = lookup(args[0]!.toString('latin1'));
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
  const spec = lookup(args[0]!.toString('latin1'));
  if (spec === undefined) return unknownCommand(args);
  if (!arityOk(spec.arity, args.length)) return wrongArity(spec.name);
  ctx.session.lastCommand = spec.name;
  if (!ctx.session.authenticated && spec.noAuth !== true) return NOAUTH;
  try {
    const reason = denial(ctx, spec, args);
    if (reason !== undefined) return errorReply(`NOPERM ${reason}`);
    const out = spec.run(ctx, args);
    if (out instanceof Promise) return out.catch((err: unknown) => errorFor(err, ctx));
    return out;
  } catch (err) {
    return errorFor(err, ctx);
  }
}
