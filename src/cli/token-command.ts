import { loadAgentConfig } from '../node/config.js';
import type { Caveat } from '../security/caveats.js';
import { formatKey, generateKey, parseKey } from '../security/key-set.js';
import { formatToken, mintToken } from '../security/token.js';
import { EXIT, intFlag, type Options, parseFlags, stringFlag, UsageError } from './args.js';
import { TOKEN_HELP } from './help.js';
import { type CliIo, write } from './lifecycle.js';

/**
 * `cairn token key` prints a new random root key for `security.tokenRootKeys`;
 * `cairn token mint` mints a capability token from the first root key the agent's configuration
 * (`--config` file and `CAIRN_*` environment, as `cairn agent` reads them) or `--root-key` gives,
 * narrowed by `--prefix`, `--read-only` and `--ttl-s`. The operations the etcd API checks are
 * `store:read`, `store:write` and `store:admin` (members, compaction).
 */

/** Flags of `cairn token mint`. */
export const TOKEN_OPTIONS: Options = {
  config: { type: 'string', short: 'c' },
  'root-key': { type: 'string' },
  prefix: { type: 'string' },
  'read-only': { type: 'boolean' },
  'ttl-s': { type: 'string' },
  location: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Runs `cairn token <subcommand>`. */
export async function tokenCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    await write(sub === undefined ? io.stderr : io.stdout, TOKEN_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === 'key') {
    await write(io.stdout, `${formatKey(generateKey())}\n`);
    return EXIT.ok;
  }
  if (sub !== 'mint') throw new UsageError(`unknown token subcommand "${sub}"`, 'token');
  const { values } = parseFlags('token', rest, TOKEN_OPTIONS);
  if (values.help === true) {
    await write(io.stdout, TOKEN_HELP);
    return EXIT.ok;
  }
  const rootKey = await chooseRootKey(values, io);
  const caveats: Caveat[] = [];
  const prefix = stringFlag(values, 'prefix');
  if (prefix !== undefined) caveats.push({ type: 'prefix', prefix });
  if (values['read-only'] === true) caveats.push({ type: 'ops', ops: ['store:read'] });
  if (values['ttl-s'] !== undefined) {
    const ttlS = intFlag('token', values, 'ttl-s', { min: 1, max: 10 * 365 * 86_400, default: 1 });
    caveats.push({ type: 'expires', atMs: Date.now() + ttlS * 1_000 });
  }
  const location = stringFlag(values, 'location');
  const token = mintToken(rootKey, { caveats, ...(location === undefined ? {} : { location }) });
  await write(io.stdout, `${formatToken(token)}\n`);
  return EXIT.ok;
}

async function chooseRootKey(values: Record<string, unknown>, io: CliIo): Promise<Uint8Array> {
  const given = stringFlag(values as never, 'root-key');
  if (given !== undefined) {
    try {
      return parseKey(given);
    } catch (err) {
      throw new UsageError(`flag --root-key: ${(err as Error).message}`, 'token');
    }
  }
  const configFile = stringFlag(values as never, 'config');
  const config = await loadAgentConfig({
    ...(configFile === undefined ? {} : { configFile }),
    env: io.env,
    cwd: io.cwd,
  });
  const first = config.security.tokenRootKeys[0];
  if (first === undefined) {
    throw new UsageError(
      'no root key: set security.tokenRootKeys (CAIRN_TOKEN_ROOT_KEYS) or pass --root-key (make one with "cairn token key")',
      'token',
    );
  }
  return parseKey(first);
}
