import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/**
 * Checking, before any agent is spawned, that every port of a dev cluster is free, so a clash
 * fails at once with the port's number and service instead of as one child's log line.
 *
 * The check binds and releases each port; another process can still take a port between the
 * check and the agent's bind. The agent then fails with `AGENT_START_FAILED` naming the port, and
 * `cairn dev` reports that node's log.
 */

/** One port to check. */
export interface PortCheck {
  /** Port number. */
  port: number;
  /** Protocol: gossip uses both UDP and TCP on its port. */
  protocol: 'tcp' | 'udp';
  /** What the port is for, for the message (`HTTP of node-1`). */
  what: string;
}

/** True when `port` can be bound over TCP on `host` right now. */
export function tcpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** True when `port` can be bound over UDP on `host` right now. */
export function udpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}

/**
 * The first check whose port is taken, or `undefined` when all are free. Checks run one after
 * another (a dev cluster has at most a few hundred ports; this takes milliseconds).
 */
export async function firstTakenPort(
  host: string,
  checks: readonly PortCheck[],
): Promise<PortCheck | undefined> {
  for (const check of checks) {
    const free =
      check.protocol === 'tcp' ? await tcpPortFree(host, check.port) : await udpPortFree(host, check.port);
    if (!free) return check;
  }
  return undefined;
}
