import type { Consistency, KvEntry } from '../../types.js';
import { Glob } from '../glob.js';
import { array, bulk, errorReply, intReply, NULL, OK, type Reply } from '../reply.js';
import { is, MAX_TIME_MS, NOT_INTEGER, nowMs, parseInteger, SYNTAX_ERROR, text, wrongArity } from './args.js';
import type { CommandContext, CommandSpec } from './context.js';

/**
 * The data commands: GET, SET, DEL, EXISTS, MGET, MSET, the expiry commands, SCAN, DBSIZE, and
 * the INCR family's refusal.
 *
 * Each one is one or two KvApi calls at the connection's consistency levels. SET with NX, XX, GET
 * or KEEPTTL, DEL, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT and PERSIST read the key and then write
 * it: two requests, not one atomic step (a write by another client can land between them; the
 * later version wins). DESIGN.md ("Redis protocol") says what that means for each.
 */

/** The options of a call that only names its level: one shared record per level, none per request. */
const AT_LEVEL: Readonly<Record<Consistency, { readonly consistency: Consistency }>> = {
  ONE: Object.freeze({ consistency: 'ONE' }),
  QUORUM: Object.freeze({ consistency: 'QUORUM' }),
  ALL: Object.freeze({ consistency: 'ALL' }),
};

function readOptions(ctx: CommandContext) {
  return AT_LEVEL[ctx.session.readConsistency];
}

function writeOptions(ctx: CommandContext, expiresAt?: number) {
  return expiresAt === undefined
    ? AT_LEVEL[ctx.session.writeConsistency]
    : { consistency: ctx.session.writeConsistency, expiresAt };
}

function entryReply(entry: KvEntry | undefined): Reply {
  return entry === undefined ? NULL : bulk(entry.value);
}

/** GET: the store's promise chained to the reply, no async frame (the per-request path). */
function get(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  return ctx.server.kv.get(args[1]!, readOptions(ctx)).then(entryReply);
}

interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  expiresAt: number | undefined;
}

const INVALID_SET_EXPIRE = errorReply("ERR invalid expire time in 'set' command");

/** SET's options (Redis's parseExtendedStringArgumentsOrReply), or the error reply. */
function parseSetOptions(args: readonly Buffer[], now: number): SetOptions | Reply {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false, expiresAt: undefined };
  let expireSeen = false;
  for (let i = 3; i < args.length; i++) {
    const a = args[i]!;
    if (is(a, 'nx') && !o.xx) o.nx = true;
    else if (is(a, 'xx') && !o.nx) o.xx = true;
    else if (is(a, 'get')) o.get = true;
    else if (is(a, 'keepttl') && !expireSeen) o.keepTtl = true;
    else if ((is(a, 'ex') || is(a, 'px') || is(a, 'exat') || is(a, 'pxat')) && !expireSeen && !o.keepTtl) {
      const next = args[i + 1];
      if (next === undefined) return SYNTAX_ERROR;
      i++;
      expireSeen = true;
      const n = parseInteger(next);
      if (n === undefined) return NOT_INTEGER;
      if (n <= 0) return INVALID_SET_EXPIRE;
      const seconds = is(a, 'ex') || is(a, 'exat');
      const ms = seconds ? n * 1000 : n;
      const at = is(a, 'ex') || is(a, 'px') ? now + ms : ms;
      if (!Number.isSafeInteger(at) || at > MAX_TIME_MS) return INVALID_SET_EXPIRE;
      o.expiresAt = at;
    } else return SYNTAX_ERROR;
  }
  return o;
}

function answerOk(): Reply {
  return OK;
}

/** SET; a plain `SET key value` (the per-request path) is one write and one chained reply, no async frame. */
function set(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  if (args.length === 3) return ctx.server.kv.put(args[1]!, args[2]!, writeOptions(ctx)).then(answerOk);
  return setWithOptions(ctx, args);
}

async function setWithOptions(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const kv = ctx.server.kv;
  const key = args[1]!;
  const value = args[2]!;
  const o = parseSetOptions(args, nowMs(ctx.server.clock));
  if (!('nx' in o)) return o;
  const old = o.nx || o.xx || o.get || o.keepTtl ? await kv.get(key, readOptions(ctx)) : undefined;
  const previous = o.get ? entryReply(old) : undefined;
  if ((o.nx && old !== undefined) || (o.xx && old === undefined)) return previous ?? NULL;
  const expiresAt = o.keepTtl ? old?.expiresAt : o.expiresAt;
  await kv.put(key, value, writeOptions(ctx, expiresAt));
  return previous ?? OK;
}

/** DEL: reads each key to count the live ones, then writes a tombstone for every key named. */
async function del(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const keys = unique(args.slice(1));
  const kv = ctx.server.kv;
  const found = await Promise.all(keys.map((k) => kv.get(k, readOptions(ctx))));
  // Every named key gets a tombstone, even one this read missed: a replica the read did not
  // reach may hold it, and the tombstone shadows it there too.
  await Promise.all(keys.map((k) => kv.put(k, undefined, writeOptions(ctx))));
  return intReply(found.filter((e) => e !== undefined).length);
}

function unique(keys: readonly Buffer[]): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const k of keys) {
    const id = k.toString('latin1');
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(k);
  }
  return out;
}

async function exists(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const found = await Promise.all(args.slice(1).map((k) => ctx.server.kv.get(k, readOptions(ctx))));
  return intReply(found.filter((e) => e !== undefined).length);
}

async function mget(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const found = await Promise.all(args.slice(1).map((k) => ctx.server.kv.get(k, readOptions(ctx))));
  return array(found.map(entryReply));
}

async function mset(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  if (args.length % 2 === 0) return wrongArity('mset');
  const writes: Promise<void>[] = [];
  for (let i = 1; i < args.length; i += 2)
    writes.push(ctx.server.kv.put(args[i]!, args[i + 1]!, writeOptions(ctx)));
  await Promise.all(writes);
  return OK;
}

/** EXPIRE and friends: how the number is read. */
interface ExpireKind {
  readonly name: string;
  readonly unitMs: number;
  readonly absolute: boolean;
}

function expireCommand(kind: ExpireKind) {
  return async (ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> => {
    const n = parseInteger(args[2]!);
    if (n === undefined) return NOT_INTEGER;
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (const a of args.slice(3)) {
      if (is(a, 'nx')) nx = true;
      else if (is(a, 'xx')) xx = true;
      else if (is(a, 'gt')) gt = true;
      else if (is(a, 'lt')) lt = true;
      else return errorReply(`ERR Unsupported option ${text(a)}`);
    }
    if (nx && (xx || gt || lt))
      return errorReply('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) return errorReply('ERR GT and LT options at the same time are not compatible');
    const now = nowMs(ctx.server.clock);
    const when = (kind.absolute ? 0 : now) + n * kind.unitMs;
    if (!Number.isSafeInteger(when) || when > MAX_TIME_MS)
      return errorReply(`ERR invalid expire time in '${kind.name}' command`);
    const kv = ctx.server.kv;
    const old = await kv.get(args[1]!, readOptions(ctx));
    if (old === undefined) return intReply(0);
    const current = old.expiresAt;
    if (nx && current !== undefined) return intReply(0);
    if (xx && current === undefined) return intReply(0);
    if (gt && (current === undefined || when <= current)) return intReply(0);
    if (lt && current !== undefined && when >= current) return intReply(0);
    // A time in the past deletes the key, as Redis does.
    if (when <= now) await kv.put(args[1]!, undefined, writeOptions(ctx));
    else await kv.put(args[1]!, old.value, writeOptions(ctx, when));
    return intReply(1);
  };
}

function ttlCommand(inMs: boolean) {
  return async (ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> => {
    const entry = await ctx.server.kv.get(args[1]!, readOptions(ctx));
    if (entry === undefined) return intReply(-2);
    if (entry.expiresAt === undefined) return intReply(-1);
    const left = Math.max(0, Math.round(entry.expiresAt - ctx.server.clock.now()));
    return intReply(inMs ? left : Math.floor((left + 500) / 1000));
  };
}

async function persist(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const kv = ctx.server.kv;
  const entry = await kv.get(args[1]!, readOptions(ctx));
  if (entry === undefined || entry.expiresAt === undefined) return intReply(0);
  await kv.put(args[1]!, entry.value, writeOptions(ctx));
  return intReply(1);
}

const MAX_CURSOR = (1n << 64n) - 1n;

/** SCAN's cursor: an unsigned 64-bit decimal, as Redis parses it. */
function parseCursor(arg: Uint8Array): bigint | undefined {
  if (arg.length === 0 || arg.length > 20) return undefined;
  for (const c of arg) if (c < 0x30 || c > 0x39) return undefined;
  const value = BigInt(text(arg));
  return value <= MAX_CURSOR ? value : undefined;
}

async function scan(ctx: CommandContext, args: readonly Buffer[]): Promise<Reply> {
  const cursor = parseCursor(args[1]!);
  if (cursor === undefined) return errorReply('ERR invalid cursor');
  let count = 10;
  let glob: Glob | undefined;
  let stringsOnly = true;
  for (let i = 2; i < args.length; i += 2) {
    const a = args[i]!;
    const v = args[i + 1];
    if (v === undefined) return SYNTAX_ERROR;
    if (is(a, 'count')) {
      const n = parseInteger(v);
      if (n === undefined) return NOT_INTEGER;
      if (n < 1) return SYNTAX_ERROR;
      count = Math.min(n, ctx.server.limits.maxScanCount);
    } else if (is(a, 'match')) {
      glob = is(v, '*') ? undefined : new Glob(v);
    } else if (is(a, 'type')) {
      stringsOnly = is(v, 'string');
    } else return SYNTAX_ERROR;
  }
  const page = await ctx.server.kv.scan(cursor, { count, ...readOptions(ctx) });
  const credential = ctx.session.credential;
  const auth = ctx.server.auth;
  const keys = page.keys.filter(
    (k) =>
      stringsOnly &&
      (glob === undefined || glob.matches(k)) &&
      (credential === undefined || auth === undefined || auth.allowsKey(credential, k)),
  );
  return array([bulk(page.cursor.toString()), array(keys.map(bulk))]);
}

async function dbsize(ctx: CommandContext): Promise<Reply> {
  return intReply(await ctx.server.kv.approximateSize());
}

function refuseReadModifyWrite(ctx: CommandContext, args: readonly Buffer[]): Reply {
  void ctx;
  const name = text(args[0]!).toUpperCase();
  return errorReply(
    `ERR ${name} is not supported: Cairn's store is last-write-wins and has no atomic read-modify-write, so two concurrent ${name}s could both read the same value and one update would be lost; read the value, compute, and SET it instead`,
  );
}

function spec(
  name: string,
  arity: number,
  access: CommandSpec['access'],
  keys: readonly [number, number, number],
  summary: string,
  run: CommandSpec['run'],
  extra: Partial<CommandSpec> = {},
): CommandSpec {
  const flags =
    access === 'none' ? ['fast'] : access === 'read' ? ['readonly', 'fast'] : ['write', 'denyoom'];
  return { name, arity, flags, keys, access, group: 'string', since: '1.0.0', summary, run, ...extra };
}

/** The data commands' table entries. */
export const KEY_COMMANDS: readonly CommandSpec[] = [
  spec('get', 2, 'read', [1, 1, 1], 'Returns the string value of a key.', get),
  spec(
    'set',
    -3,
    'write',
    [1, 1, 1],
    'Sets the string value of a key, ignoring its type. The key is created if it does not exist.',
    set,
    {
      // SET ... GET / KEEPTTL / NX / XX read the key first.
      access: 'read-write',
    },
  ),
  spec('del', -2, 'read-write', [1, -1, 1], 'Deletes one or more keys.', del, { group: 'generic' }),
  spec('exists', -2, 'read', [1, -1, 1], 'Determines whether one or more keys exist.', exists, {
    group: 'generic',
  }),
  spec('mget', -2, 'read', [1, -1, 1], 'Atomically returns the string values of one or more keys.', mget),
  spec(
    'mset',
    -3,
    'write',
    [1, -1, 2],
    'Atomically creates or modifies the string values of one or more keys.',
    mset,
  ),
  spec(
    'expire',
    -3,
    'read-write',
    [1, 1, 1],
    'Sets the expiration time of a key in seconds.',
    expireCommand({ name: 'expire', unitMs: 1000, absolute: false }),
    { group: 'generic' },
  ),
  spec(
    'pexpire',
    -3,
    'read-write',
    [1, 1, 1],
    'Sets the expiration time of a key in milliseconds.',
    expireCommand({ name: 'pexpire', unitMs: 1, absolute: false }),
    { group: 'generic' },
  ),
  spec(
    'expireat',
    -3,
    'read-write',
    [1, 1, 1],
    'Sets the expiration time of a key to a Unix timestamp.',
    expireCommand({ name: 'expireat', unitMs: 1000, absolute: true }),
    { group: 'generic' },
  ),
  spec(
    'pexpireat',
    -3,
    'read-write',
    [1, 1, 1],
    'Sets the expiration time of a key to a Unix milliseconds timestamp.',
    expireCommand({ name: 'pexpireat', unitMs: 1, absolute: true }),
    { group: 'generic' },
  ),
  spec('ttl', 2, 'read', [1, 1, 1], 'Returns the expiration time in seconds of a key.', ttlCommand(false), {
    group: 'generic',
  }),
  spec(
    'pttl',
    2,
    'read',
    [1, 1, 1],
    'Returns the expiration time in milliseconds of a key.',
    ttlCommand(true),
    { group: 'generic' },
  ),
  spec('persist', 2, 'read-write', [1, 1, 1], 'Removes the expiration time of a key.', persist, {
    group: 'generic',
  }),
  spec('scan', -2, 'read', [0, 0, 0], 'Iterates over the key names in the database.', scan, {
    group: 'generic',
    keyless: true,
  }),
  spec('dbsize', 1, 'read', [0, 0, 0], 'Returns the number of keys in the database.', dbsize, {
    group: 'server',
    keyless: true,
  }),
  ...(
    [
      ['incr', 2],
      ['decr', 2],
      ['incrby', 3],
      ['decrby', 3],
      ['incrbyfloat', 3],
      ['append', 3],
    ] as const
  ).map(([name, arity]) =>
    spec(
      name,
      arity,
      'none',
      [1, 1, 1],
      'Not supported: needs an atomic read-modify-write.',
      refuseReadModifyWrite,
    ),
  ),
];
