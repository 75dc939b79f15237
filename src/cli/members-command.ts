import { describeError } from '../core/index.js';
import { loadAgentConfig } from '../node/config.js';
import type { JsonStateValue, MemberJson, MembersJson } from '../node/members-http.js';
import { formatHostPort, parseHostPort } from '../node/ports.js';
import { printable } from '../node/printable.js';
import { EXIT, intFlag, type Options, parseFlags, stringFlag, UsageError, type Values } from './args.js';
import { MEMBERS_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';

/**
 * `cairn members`: the cluster as one node sees it, read from that node's `GET /v1/members`.
 *
 * Which node: `--http host:port` when given; otherwise the agent the same configuration describes
 * (`--config` file and `CAIRN_*` environment, as `cairn agent` reads them): its advertise host or
 * bind host (an unspecified bind becomes loopback) and its HTTP port. With nothing configured that
 * is `127.0.0.1:7200`, node 0 of `cairn dev`'s default plan.
 *
 * Output: a table, or with `--json` exactly one JSON line, the body of `/v1/members`. Exit codes: 0
 * listed; 1 the node cannot be reached or did not answer with a member list; 2 bad command line.
 */

/** Flags of `cairn members`. */
export const MEMBERS_OPTIONS: Options = {
  http: { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Defaults of `cairn members`. */
export const MEMBERS_DEFAULTS = Object.freeze({
  /** How long the HTTP request may take: a local agent answers in milliseconds. */
  timeoutMs: 5_000,
});

/**
 * The base URL of the agent a command asks: `--http` when given, else the agent the `--config` file
 * and `CAIRN_*` environment describe. Shared by the commands that read an agent's HTTP API.
 */
export async function agentHttpBase(values: Values, io: CliIo, command = 'members'): Promise<string> {
  const http = stringFlag(values, 'http');
  if (http !== undefined) {
    if (/^https?:\/\//.test(http)) return http.replace(/\/+$/, '');
    if (parseHostPort(http) === undefined) {
      throw new UsageError(`flag --http must be host:port (e.g. 127.0.0.1:7200), got "${http}"`, command);
    }
    return `http://${http}`;
  }
  const configFile = stringFlag(values, 'config');
  const config = await loadAgentConfig({
    ...(configFile === undefined ? {} : { configFile }),
    env: io.env,
    cwd: io.cwd,
  });
  if (config.bind.httpPort === 0) {
    throw new UsageError('the configured HTTP port is 0 (picked at start); pass --http host:port', command);
  }
  const bound =
    config.bind.host === '0.0.0.0' ? '127.0.0.1' : config.bind.host === '::' ? '::1' : config.bind.host;
  return `http://${formatHostPort(config.advertiseHost ?? bound, config.bind.httpPort)}`;
}

/**
 * GETs `path` from the agent at `base` and returns the JSON body when the answer is 200 and
 * `valid`; otherwise writes one line saying what went wrong (unreachable, or the status and the
 * agent's `error`) and returns undefined. Shared by the commands that read an agent's HTTP API.
 */
export async function readAgentJson<T>(
  io: CliIo,
  request: {
    base: string;
    path: string;
    timeoutMs: number;
    command: string;
    valid: (body: unknown) => body is T;
  },
): Promise<T | undefined> {
  const { base, path, timeoutMs, command, valid } = request;
  const url = `${base}${path}`;
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? describeError(err);
    await write(
      io.stderr,
      `cairn ${command}: cannot reach the agent at ${printable(base)} (${printable(cause)}); is it running? Pick a node with --http host:port\n`,
    );
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (status !== 200 || !valid(body)) {
    const error = (body as { error?: unknown } | undefined)?.error;
    const why = typeof error === 'string' ? error : text.slice(0, 200);
    await write(io.stderr, `cairn ${command}: ${printable(url)} answered ${status}: ${printable(why)}\n`);
    return undefined;
  }
  return body;
}

function isMembersJson(body: unknown): body is MembersJson {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { node?: unknown; members?: unknown };
  return typeof b.node === 'string' && Array.isArray(b.members);
}

/**
 * Runs `cairn members` with `args` (the arguments after `members`).
 *
 * @returns the exit code
 */
export async function membersCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags('members', args, MEMBERS_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, MEMBERS_HELP);
    return EXIT.ok;
  }
  const timeoutMs = intFlag('members', values, 'timeout-ms', {
    min: 1,
    max: 600_000,
    default: MEMBERS_DEFAULTS.timeoutMs,
  });
  const base = await agentHttpBase(values, io);
  const body = await readAgentJson(io, {
    base,
    path: '/v1/members',
    timeoutMs,
    command: 'members',
    valid: isMembersJson,
  });
  if (body === undefined) return EXIT.failure;
  await write(io.stdout, values.json === true ? `${JSON.stringify(body)}\n` : formatMembersTable(body));
  return EXIT.ok;
}

function showValue(value: JsonStateValue): string {
  const text = typeof value === 'string' ? value : `base64:${value.base64}`;
  return printable(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

function metadataText(m: MemberJson): string {
  const parts = Object.entries(m.metadata).map(([k, v]) => `${printable(k)}=${showValue(v)}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

/**
 * The readable form of a member list: a header and one aligned row per member, this node marked
 * with `*`, then a count by state. Every string from the answer is passed through `printable`
 * (control characters escaped), so a member cannot forge a row or rewrite the terminal.
 *
 * @example
 * ```text
 * NAME      ID        STATE  ADDRESS          INC  METADATA
 * node-0 *  abcdefgh  alive  127.0.0.1:7100   0    role=kv
 * 3 members: 3 alive
 * ```
 */
export function formatMembersTable(body: MembersJson): string {
  const header = ['NAME', 'ID', 'STATE', 'ADDRESS', 'INC', 'METADATA'];
  // Names, addresses and metadata come from peers: escaped, so none can forge a row or a column.
  const rows = body.members.map((m) => [
    m.local ? `${printable(m.name)} *` : printable(m.name),
    printable(m.id.slice(0, 8)),
    printable(m.state),
    printable(m.address),
    printable(String(m.incarnation)),
    metadataText(m),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const counts = new Map<string, number>();
  for (const m of body.members) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${printable(state)}`).join(', ');
  const noun = body.members.length === 1 ? 'member' : 'members';
  return `${[line(header), ...rows.map(line)].join('\n')}\n${body.members.length} ${noun}: ${summary} (* = the node asked)\n`;
}
