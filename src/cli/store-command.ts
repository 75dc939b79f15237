import { printable } from '../node/printable.js';
import type { StoreMemberJson, StoreStatusJson } from '../node/store-http.js';
import { EXIT, intFlag, type Options, parseFlags, UsageError } from './args.js';
import { STORE_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';
import { agentHttpBase, readAgentJson } from './members-command.js';

/**
 * `cairn store status`: the consistent store as one node sees it (its `GET /v1/store/status`):
 * leader, term, commit and applied index, revision, members and learners. The node asked is chosen
 * as for `cairn members`. Exit codes: 0 shown; 1 the node cannot be reached or runs no store;
 * 2 bad command line.
 */

/** Flags of `cairn store status`. */
export const STORE_OPTIONS: Options = {
  http: { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function isStatusJson(body: unknown): body is StoreStatusJson {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<StoreStatusJson>;
  return typeof b.id === 'string' && typeof b.term === 'number' && Array.isArray(b.members);
}

/** Runs `cairn store <subcommand>`. */
export async function storeCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    await write(sub === undefined ? io.stderr : io.stdout, STORE_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== 'status') throw new UsageError(`unknown store subcommand "${sub}"`, 'store');
  const { values } = parseFlags('store', rest, STORE_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, STORE_HELP);
    return EXIT.ok;
  }
  const timeoutMs = intFlag('store', values, 'timeout-ms', { min: 1, max: 600_000, default: 5_000 });
  const base = await agentHttpBase(values, io, 'store');
  const body = await readAgentJson(io, {
    base,
    path: '/v1/store/status',
    timeoutMs,
    command: 'store',
    valid: isStatusJson,
  });
  if (body === undefined) return EXIT.failure;
  await write(io.stdout, values.json === true ? `${JSON.stringify(body)}\n` : formatStoreStatus(body));
  return EXIT.ok;
}

function memberRow(m: StoreMemberJson, s: StoreStatusJson): string[] {
  const marks = `${m.id === s.leader ? ' (leader)' : ''}${m.id === s.id ? ' *' : ''}`;
  return [
    printable(m.id),
    `${printable(m.name)}${marks}`,
    m.isLearner ? 'learner' : 'voter',
    printable(m.clientUrls.join(',')),
  ];
}

/**
 * The readable form of a store status: a summary block, then one row per member (voters first).
 * Strings from the answer pass through `printable`.
 */
export function formatStoreStatus(s: StoreStatusJson): string {
  const summary = [
    `member     ${printable(s.id)} ${printable(s.name)} (${printable(s.role)})`,
    `leader     ${s.leader === '' ? 'none' : `${printable(s.leader)} ${printable(s.leaderName)}`}`,
    `term       ${s.term}`,
    `commit     ${s.commitIndex}`,
    `applied    ${s.appliedIndex}`,
    `revision   ${s.revision} (compacted at ${s.compactRevision})`,
  ];
  const header = ['ID', 'NAME', 'KIND', 'CLIENT URLS'];
  const rows = [...s.members, ...s.learners].map((m) => memberRow(m, s));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const counts = `${s.members.length} voters, ${s.learners.length} learners (* = the node asked)`;
  return `${summary.join('\n')}\n\n${[line(header), ...rows.map(line)].join('\n')}\n${counts}\n`;
}
