import { isIP } from 'node:net';
import { CairnError } from '../core/index.js';

/**
 * Ports and addresses of an agent.
 *
 * One port plan for every node Cairn starts on one machine: node `i` (0-based) of a plan with base
 * port `B` listens on gossip `B+100+i`, HTTP `B+200+i`, etcd API `B+300+i` and RESP `B+400+i`.
 * Each service owns a block of 100 ports, so a plan holds at most {@link PORT_PLAN_MAX_NODES} nodes
 * and the highest port is `B+499`. The agent's default ports are node 0 of base 7000.
 */

/** The base port of `cairn dev` and of the agent's default ports. */
export const DEFAULT_BASE_PORT = 7000;

/** How many nodes one port plan holds: each service's block is 100 ports wide. */
export const PORT_PLAN_MAX_NODES = 100;

/** The four ports of one node. */
export interface NodePorts {
  /** Gossip (membership): UDP packets and TCP streams on the same port number. */
  gossip: number;
  /** HTTP: `/health`, `/metrics`, later the REST API and dashboard. */
  http: number;
  /** The etcd v3 API of the store role. */
  etcd: number;
  /** The Redis protocol (RESP) front end of the kv role. */
  resp: number;
}

/**
 * The ports of node `index` in the plan that starts at `basePort`.
 *
 * @param basePort - the plan's base port; default {@link DEFAULT_BASE_PORT}
 * @param index - the node's 0-based index, below {@link PORT_PLAN_MAX_NODES}
 * @throws `INVALID_ARGUMENT` when the index is out of the plan or a port would pass 65535
 * @example
 * ```ts
 * portPlan(7000, 2); // { gossip: 7102, http: 7202, etcd: 7302, resp: 7402 }
 * ```
 */
export function portPlan(basePort: number = DEFAULT_BASE_PORT, index = 0): NodePorts {
  if (!Number.isSafeInteger(index) || index < 0 || index >= PORT_PLAN_MAX_NODES) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `node index ${index} is outside the port plan (0-${PORT_PLAN_MAX_NODES - 1}): each service has a block of ${PORT_PLAN_MAX_NODES} ports`,
    );
  }
  checkBasePort(basePort);
  return {
    gossip: basePort + 100 + index,
    http: basePort + 200 + index,
    etcd: basePort + 300 + index,
    resp: basePort + 400 + index,
  };
}

/** The largest base port whose plan still fits below 65536. */
export const MAX_BASE_PORT = 65535 - 400 - (PORT_PLAN_MAX_NODES - 1);

/** Throws `INVALID_ARGUMENT` unless `basePort` is an integer 1..{@link MAX_BASE_PORT}. */
export function checkBasePort(basePort: number): void {
  if (!Number.isSafeInteger(basePort) || basePort < 1 || basePort > MAX_BASE_PORT) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `base port must be an integer 1-${MAX_BASE_PORT} (the plan uses base+100 to base+499), got ${String(basePort)}`,
    );
  }
}

/**
 * `host:port`, with brackets around an IPv6 host (`[::1]:7100`).
 *
 * @example
 * ```ts
 * formatHostPort('127.0.0.1', 7100); // '127.0.0.1:7100'
 * ```
 */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** True when `host` is an IPv4 or IPv6 address or a syntactically valid DNS name. */
export function isHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME.test(host);
}

/**
 * Parses `host:port` (`[v6]:port` for IPv6); returns `undefined` for anything else, so callers
 * build the error message with their own context.
 *
 * @param text - the address text
 * @param minPort - the smallest accepted port; default 1 (a seed on port 0 is unreachable)
 */
export function parseHostPort(text: string, minPort = 1): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const host = match[1] ?? match[2] ?? '';
  if (match[1] !== undefined && isIP(host) !== 6) return undefined;
  if (!isHost(host)) return undefined;
  const port = Number(match[3]);
  if (port < minPort || port > 65535) return undefined;
  return { host, port };
}

/**
 * Why a listener could not bind, in words, from the system error code: `is already in use`
 * (EADDRINUSE), `needs privileges` (EACCES), `is not an address of this machine` (EADDRNOTAVAIL),
 * else `cannot be bound (CODE)`. Used in `<service> port <n> on <host> <why>` messages.
 */
export function bindFailureReason(code: string | undefined): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'is already in use';
    case 'EACCES':
      return 'needs privileges';
    case 'EADDRNOTAVAIL':
      return 'is not an address of this machine';
    default:
      return `cannot be bound (${code ?? 'unknown error'})`;
  }
}

/**
 * The system error (one with an errno `code` and a `syscall`) in `err`'s cause chain, at most
 * `maxDepth` causes deep, or `undefined`.
 */
export function systemErrorIn(err: unknown, maxDepth = 8): NodeJS.ErrnoException | undefined {
  let current: unknown = err;
  for (let depth = 0; depth <= maxDepth && current !== undefined && current !== null; depth++) {
    const e = current as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && typeof e.syscall === 'string') return e;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
