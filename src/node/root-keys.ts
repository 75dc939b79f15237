import { CairnError } from '../core/index.js';
import { parseKey } from '../security/key-set.js';
import type { AgentConfig } from './config.js';
import { isLoopback } from './members-http.js';

/** True for a host every client of which is on this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}

/**
 * The token root keys a client API (etcd, Redis) verifies tokens with, or undefined when it serves
 * on loopback without keys (`cairn dev`: no credentials needed).
 *
 * @param what - the API, for the error ("the etcd API", "the Redis protocol")
 * @throws `AGENT_START_FAILED` when the API would listen beyond loopback without keys
 */
export function clientRootKeys(config: AgentConfig, what: string): Uint8Array[] | undefined {
  const keys = config.security.tokenRootKeys.map((k) => parseKey(k));
  if (keys.length > 0) return keys;
  if (isLoopbackHost(config.bind.host)) return undefined;
  throw new CairnError(
    'AGENT_START_FAILED',
    `${what} would listen on ${config.bind.host}, beyond loopback, without credentials: set security.tokenRootKeys (CAIRN_TOKEN_ROOT_KEYS; make one with "cairn token key")`,
  );
}
