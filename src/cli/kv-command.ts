import { KvClient } from '../kv/client/index.js';
import { isKvError, KvError } from '../kv/errors.js';
import type { Consistency } from '../kv/types.js';
import { loadAgentConfig } from '../node/config.js';
import type { KvRingJson, KvStatusJson } from '../node/kv-http.js';
import { formatHostPort, parseHostPort } from '../node/ports.js';
import { printable } from '../node/printable.js';
import { EXIT, intFlag, type Options, parseFlags, stringFlag, UsageError, type Values } from './args.js';
import { KV_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';
import { agentHttpBase, readAgentJson } from './members-command.js';

/**
 * `cairn kv get|set|del|scan|ring|decommission|removenode`: the partitioned store from the command line.
 *
 * get, set, del and scan speak the Redis protocol to one node through the `cairn/kv` client (with
 * routing off: the node asked coordinates, and any node answers for any key); ring, decommission and removenode use
 * the node's HTTP API (`/v1/kv/ring`, `POST /v1/kv/decommission` or `POST /v1/kv/removenode` then
 * `/v1/kv/status` for the progress bar).
 * Which node: `--resp host:port` / `--http host:port` when given, else the agent that `--config`
 * and the `CAIRN_*` environment describe (as `cairn agent` reads them), else node 0 of `cairn dev`.
 * A node that requires tokens gets the one in `CAIRN_KV_TOKEN` (AUTH for RESP, a bearer token for
 * HTTP). Exit codes: 0 done; 1 not found (get), refused, or the node cannot be reached; 2 usage.
 */

/** Flags of `cairn kv`. */
export const KV_OPTIONS: Options = {
  resp: { type: 'string' },
  http: { type: 'string' },
  config: { type: 'string', short: 'c' },
  consistency: { type: 'string' },
  'ttl-ms': { type: 'string' },
  match: { type: 'string' },
  count: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Defaults and bounds of `cairn kv`. */
export const KV_COMMAND_DEFAULTS = Object.freeze({
  /** Deadline of one call (a QUORUM read answers within the node's 5 s read timeout). */
  timeoutMs: 10_000,
  /** Keys `scan` prints at most unless `--limit` says otherwise. */
  scanLimit: 1_000,
  /** Largest `--limit`: a terminal is no place for more. */
  maxScanLimit: 1_000_000,
  /** SCAN's COUNT per page. */
  scanCount: 100,
  /** How often `decommission` and `removenode` read the status while they wait. */
  progressIntervalMs: 500,
  /** Longest wait for a connection to a node. */
  connectTimeoutMs: 5_000,
  /** How long `decommission` and `removenode` wait for the node to finish, by default: one hour. */
  decommissionTimeoutMs: 3_600_000,
});

const SUBCOMMANDS = ['get', 'set', 'del', 'scan', 'ring', 'decommission', 'removenode'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];
const POSITIONALS: Readonly<Record<Subcommand, [number, number]>> = {
  get: [1, 1],
  set: [2, 2],
  del: [1, 1024],
  scan: [0, 0],
  ring: [0, 0],
  decommission: [0, 0],
  removenode: [1, 1],
};

/** Runs `cairn kv <subcommand>`. */
export async function kvCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    await write(sub === undefined ? io.stderr : io.stdout, KV_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub))
    throw new UsageError(`unknown kv subcommand "${sub}"`, 'kv');
  const command = sub as Subcommand;
  const [min, max] = POSITIONALS[command];
  const { values, positionals } = parseFlags(`kv ${command}`, rest, KV_OPTIONS, max);
  if (values.help === true) {
    await write(io.stdout, KV_HELP);
    return EXIT.ok;
  }
  if (positionals.length < min) {
    const what =
      command === 'removenode' ? 'the name of the node to remove' : min === 1 ? 'a key' : 'a key and a value';
    throw new UsageError(`"cairn kv ${command}" needs ${what}`, 'kv');
  }
  const timeoutMs = intFlag('kv', values, 'timeout-ms', {
    min: 1,
    max: 86_400_000,
    default:
      command === 'decommission' || command === 'removenode'
        ? KV_COMMAND_DEFAULTS.decommissionTimeoutMs
        : KV_COMMAND_DEFAULTS.timeoutMs,
  });
  if (command === 'ring') return ring(values, io, timeoutMs);
  if (command === 'decommission') return ringOperation('decommission', undefined, values, io, timeoutMs);
  if (command === 'removenode') return ringOperation('removenode', positionals[0]!, values, io, timeoutMs);
  // Every flag is checked before anything is sent: a usage error never half-runs a command.
  const scanOptions = {
    limit: intFlag('kv', values, 'limit', {
      min: 1,
      max: KV_COMMAND_DEFAULTS.maxScanLimit,
      default: KV_COMMAND_DEFAULTS.scanLimit,
    }),
    count: intFlag('kv', values, 'count', { min: 1, max: 4096, default: KV_COMMAND_DEFAULTS.scanCount }),
  };
  const ttlMs = intFlag('kv', values, 'ttl-ms', { min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 });
  consistencyFlag(values);
  const client = await openClient(values, io, timeoutMs);
  if (client === undefined) return EXIT.failure;
  try {
    switch (command) {
      case 'get':
        return await get(client, positionals[0]!, values, io);
      case 'set':
        return await set(client, positionals[0]!, positionals[1]!, ttlMs, values, io);
      case 'del':
        return await del(client, positionals, values, io);
      case 'scan':
        return await scan(client, scanOptions, values, io);
    }
  } catch (err) {
    if (!(err instanceof KvError)) throw err;
    await write(io.stderr, `cairn kv ${command}: ${err.code}: ${printable(err.message)}\n`);
    return EXIT.failure;
  } finally {
    client.close();
  }
}

/** The RESP address: --resp, else the configured agent's. */
async function respAddress(values: Values, io: CliIo): Promise<{ host: string; port: number }> {
  const given = stringFlag(values, 'resp');
  if (given !== undefined) {
    const parsed = parseHostPort(given);
    if (parsed === undefined)
      throw new UsageError(`flag --resp must be host:port (e.g. 127.0.0.1:7400), got "${given}"`, 'kv');
    return parsed;
  }
  const configFile = stringFlag(values, 'config');
  const config = await loadAgentConfig({
    ...(configFile === undefined ? {} : { configFile }),
    env: io.env,
    cwd: io.cwd,
  });
  if (config.bind.respPort === 0)
    throw new UsageError('the configured RESP port is 0 (picked at start); pass --resp host:port', 'kv');
  const bound =
    config.bind.host === '0.0.0.0' ? '127.0.0.1' : config.bind.host === '::' ? '::1' : config.bind.host;
  return { host: config.advertiseHost ?? bound, port: config.bind.respPort };
}

/** Connects through the `cairn/kv` client (token from CAIRN_KV_TOKEN); undefined after saying why not. */
async function openClient(values: Values, io: CliIo, timeoutMs: number): Promise<KvClient | undefined> {
  const { host, port } = await respAddress(values, io);
  const where = formatHostPort(host, port);
  const token = io.env.CAIRN_KV_TOKEN;
  try {
    return await KvClient.connect({
      nodes: [where],
      routing: false,
      ringRefreshIntervalMs: 0,
      requestTimeoutMs: timeoutMs,
      connectTimeoutMs: Math.min(timeoutMs, KV_COMMAND_DEFAULTS.connectTimeoutMs),
      ...(token ? { token } : {}),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    await write(
      io.stderr,
      isKvError(err, 'DENIED')
        ? `cairn kv: ${printable(where)} refused the token: ${printable(why)}\n`
        : `cairn kv: cannot reach the node's RESP port at ${printable(where)} (${printable(why)}); is it running? Pick a node with --resp host:port\n`,
    );
    return undefined;
  }
}

/** The --consistency flag, checked. */
function consistencyFlag(values: Values): { consistency?: Consistency } {
  const level = stringFlag(values, 'consistency')?.toUpperCase();
  if (level === undefined) return {};
  if (level !== 'ONE' && level !== 'QUORUM' && level !== 'ALL')
    throw new UsageError(`flag --consistency must be ONE, QUORUM or ALL, got "${level}"`, 'kv');
  return { consistency: level };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as JSON: a string when they are UTF-8, else `{ base64 }` (as `/v1/members` shows values). */
function bytesJson(bytes: Uint8Array): string | { base64: string } {
  try {
    return utf8.decode(bytes);
  } catch {
    return { base64: Buffer.from(bytes).toString('base64') };
  }
}

async function get(client: KvClient, key: string, values: Values, io: CliIo): Promise<number> {
  const value = await client.get(key, consistencyFlag(values));
  if (values.json === true) {
    await write(
      io.stdout,
      `${JSON.stringify(value === undefined ? { key, found: false } : { key, found: true, value: bytesJson(value) })}\n`,
    );
  } else if (value !== undefined) {
    await write(io.stdout, `${Buffer.from(value).toString('utf8')}\n`);
  } else {
    await write(io.stderr, `cairn kv get: no value under "${printable(key)}"\n`);
  }
  return value === undefined ? EXIT.failure : EXIT.ok;
}

async function set(
  client: KvClient,
  key: string,
  value: string,
  ttl: number,
  values: Values,
  io: CliIo,
): Promise<number> {
  await client.set(key, value, { ...consistencyFlag(values), ...(ttl > 0 ? { ttlMs: ttl } : {}) });
  await write(io.stdout, values.json === true ? `${JSON.stringify({ key, ok: true })}\n` : 'OK\n');
  return EXIT.ok;
}

async function del(client: KvClient, keys: readonly string[], values: Values, io: CliIo): Promise<number> {
  const deleted = await client.del(keys, consistencyFlag(values));
  await write(io.stdout, values.json === true ? `${JSON.stringify({ deleted })}\n` : `${deleted}\n`);
  return EXIT.ok;
}

async function scan(
  client: KvClient,
  options: { limit: number; count: number },
  values: Values,
  io: CliIo,
): Promise<number> {
  const { limit, count } = options;
  const match = stringFlag(values, 'match');
  const keys: Uint8Array[] = [];
  const seen = new Set<string>();
  let cursor = 0n;
  // Every page moves the cursor forward over the ring, so the loop ends; the page bound is a backstop.
  for (let page = 0; page < 1_000_000; page++) {
    const result = await client.scanPage(cursor, {
      count,
      ...consistencyFlag(values),
      ...(match === undefined ? {} : { match }),
    });
    for (const k of result.keys) {
      // Keys may repeat across pages (the cursor is a ring position): print each once.
      const id = Buffer.from(k).toString('base64');
      if (seen.has(id)) continue;
      seen.add(id);
      keys.push(k);
      if (keys.length >= limit) break;
    }
    cursor = result.cursor;
    if (cursor === 0n || keys.length >= limit) break;
  }
  const complete = cursor === 0n;
  if (values.json === true) {
    await write(io.stdout, `${JSON.stringify({ keys: keys.map(bytesJson), complete })}\n`);
  } else {
    await write(io.stdout, keys.map((k) => `${printable(Buffer.from(k).toString('utf8'))}\n`).join(''));
    if (!complete) await write(io.stderr, `cairn kv scan: stopped at --limit ${limit} keys\n`);
  }
  return EXIT.ok;
}

function isRingJson(body: unknown): body is KvRingJson {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<KvRingJson>;
  return typeof b.rf === 'number' && Array.isArray(b.nodes);
}

function isStatusJson(body: unknown): body is KvStatusJson {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<KvStatusJson>;
  return typeof b.name === 'string' && typeof b.status === 'string' && Array.isArray(b.tokens);
}

async function ring(values: Values, io: CliIo, timeoutMs: number): Promise<number> {
  const base = await agentHttpBase(values, io, 'kv');
  const body = await readAgentJson(io, {
    base,
    path: '/v1/kv/ring',
    timeoutMs,
    command: 'kv ring',
    valid: isRingJson,
  });
  if (body === undefined) return EXIT.failure;
  await write(io.stdout, values.json === true ? `${JSON.stringify(body)}\n` : formatRing(body));
  return EXIT.ok;
}

/**
 * Each node's share of the ring: the token ranges `(previous token, token]` that start at one of
 * its tokens' predecessors, as a fraction of 2^64 (the primary ranges; with rf replicas each node
 * holds about rf times its share).
 */
export function ringShares(body: KvRingJson): Map<string, number> {
  const all = body.nodes
    .flatMap((n) => n.tokens.map((t) => ({ token: BigInt(t), name: n.name })))
    .sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  const shares = new Map<string, number>(body.nodes.map((n) => [n.name, 0]));
  const size = 2n ** 64n;
  for (const [i, { token, name }] of all.entries()) {
    const prev = all[(i + all.length - 1) % all.length]!.token;
    const width = all.length === 1 ? size : (token - prev + size) % size;
    shares.set(name, (shares.get(name) ?? 0) + Number(width) / Number(size));
  }
  return shares;
}

/** The readable form of a ring: one row per node with its status, RESP address, tokens and share. */
export function formatRing(body: KvRingJson): string {
  const shares = ringShares(body);
  const header = ['NAME', 'STATUS', 'RESP', 'TOKENS', 'OWNS'];
  const rows = body.nodes.map((n) => [
    n.name === body.node ? `${printable(n.name)} *` : printable(n.name),
    printable(n.status),
    printable(n.resp === '' ? '-' : n.resp),
    String(n.tokens.length),
    `${((shares.get(n.name) ?? 0) * 100).toFixed(1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const noun = body.nodes.length === 1 ? 'node' : 'nodes';
  return `${[line(header), ...rows.map(line)].join('\n')}\n${body.nodes.length} ${noun}, rf ${body.rf} (* = the node asked; OWNS = primary ranges)\n`;
}

/** A progress bar line for a decommission's or a removal's status. */
export function progressLine(s: KvStatusJson, width = 30, operation: RingOperation = 'decommission'): string {
  const p = s.streaming;
  if (p === undefined || p.operation !== operation) return `${s.status}: waiting to start`;
  if (p.phase === 'waiting')
    return `${s.status}: announcing (ring delay) before streaming ${p.rangesTotal} ranges`;
  const fraction = p.rangesTotal === 0 ? 1 : p.rangesDone / p.rangesTotal;
  const filled = Math.round(fraction * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const mib = (p.bytes / (1024 * 1024)).toFixed(1);
  return `[${bar}] ${p.rangesDone}/${p.rangesTotal} ranges, ${p.cells} keys, ${mib} MiB (${p.phase})`;
}

/** The ring operations that stream and show a progress bar. */
type RingOperation = 'decommission' | 'removenode';

/**
 * Starts `operation` on the node (`removenode` of `target`), then follows its progress in
 * `/v1/kv/status` until it is done or failed, or `timeoutMs` passed.
 */
async function ringOperation(
  operation: RingOperation,
  target: string | undefined,
  values: Values,
  io: CliIo,
  timeoutMs: number,
): Promise<number> {
  const base = await agentHttpBase(values, io, 'kv');
  const token = io.env.CAIRN_KV_TOKEN;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (target !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}/v1/kv/${operation}`, {
      method: 'POST',
      signal: AbortSignal.timeout(KV_COMMAND_DEFAULTS.timeoutMs),
      headers,
      ...(target === undefined ? {} : { body: JSON.stringify({ node: target }) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? String(err);
    await write(
      io.stderr,
      `cairn kv ${operation}: cannot reach the agent at ${printable(base)} (${printable(cause)})\n`,
    );
    return EXIT.failure;
  }
  const text = await res.text();
  if (res.status !== 202) {
    let why = text.slice(0, 200);
    try {
      const error = (JSON.parse(text) as { error?: unknown }).error;
      if (typeof error === 'string') why = error;
    } catch {}
    await write(io.stderr, `cairn kv ${operation}: the node refused (${res.status}): ${printable(why)}\n`);
    return EXIT.failure;
  }
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true && values.json !== true;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const s = await readAgentJson(io, {
      base,
      path: '/v1/kv/status',
      timeoutMs: KV_COMMAND_DEFAULTS.timeoutMs,
      command: `kv ${operation}`,
      valid: isStatusJson,
    });
    if (s === undefined) return EXIT.failure;
    const line = progressLine(s, 30, operation);
    if (line !== last && values.json !== true) {
      await write(io.stderr, tty ? `\r${line}\u001b[K` : `${line}\n`);
      last = line;
    }
    const outcome = operation === 'decommission' ? s.decommission : s.removal;
    const state = outcome?.state;
    if (state === 'done' || state === 'failed') {
      if (tty) await write(io.stderr, '\n');
      if (values.json === true) await write(io.stdout, `${JSON.stringify(s)}\n`);
      else if (state === 'done')
        await write(
          io.stdout,
          operation === 'decommission'
            ? `${printable(s.name)} left the ring; it may be stopped now (it will not start on the same data directory again)\n`
            : `${printable(target ?? '')} is off the ring; its ranges were copied to their new owners (started again on its old data, it leaves the ring)\n`,
        );
      if (state === 'failed')
        await write(io.stderr, `cairn kv ${operation}: failed: ${printable(outcome?.error ?? 'unknown')}\n`);
      return state === 'done' ? EXIT.ok : EXIT.failure;
    }
    if (Date.now() > deadline) {
      await write(
        io.stderr,
        `\ncairn kv ${operation}: still running after ${timeoutMs} ms; its progress shows in GET /v1/kv/status\n`,
      );
      return EXIT.failure;
    }
    await new Promise((resolve) => setTimeout(resolve, KV_COMMAND_DEFAULTS.progressIntervalMs));
  }
}
