import { createServer, type Socket } from 'node:net';
import { type Clock, systemClock } from '../../core/clock.js';
import { withLimits } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { Consistency, KvApi } from '../types.js';
import { type RespAuthOptions, RespAuthorizer } from './auth.js';
import type { RespStats, ServerContext, Session } from './commands/context.js';
import { RespConnection } from './connection.js';
import { DEFAULT_LIMITS, type RespLimits } from './limits.js';

/** Options of {@link serveResp}. */
export interface RespServerOptions {
  /** The store every command goes to. */
  readonly kv: KvApi;
  /** Address to bind; a loopback address with no `auth` is `cairn dev`'s setup. */
  readonly host: string;
  /** Port to bind; 0 picks a free one (read it from the result). */
  readonly port: number;
  /**
   * Require a capability token (AUTH / HELLO AUTH) before any command but HELLO, AUTH and QUIT;
   * see auth.ts. Absent: no credentials needed, which is only right on loopback.
   */
  readonly auth?: RespAuthOptions;
  /** Time for TTLs (EX, TTL, ...), CLIENT LIST ages and INFO; default the system clock. Use the store's. */
  readonly clock?: Clock;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<RespLimits>;
  readonly logger?: Logger;
  /** Extra `key:value` lines for INFO's `# Cairn` section (ring status, hints pending, ...). */
  readonly info?: () => Record<string, string | number>;
  /** The read and write levels a new connection starts with; default QUORUM for both. */
  readonly consistency?: { readonly read: Consistency; readonly write: Consistency };
}

/** A running Redis-protocol server. */
export interface RespServer {
  /** The bound port. */
  readonly port: number;
  /** `host:port`, what `redis-cli -h/-p` and ioredis take. */
  readonly endpoint: string;
  /** Counters since start (a live view). */
  readonly stats: Readonly<RespStats>;
  /** Stops accepting, closes every connection (replies owed are written first) and waits. */
  close(): Promise<void>;
}

/**
 * Serves the Redis protocol (RESP2, and RESP3 after `HELLO 3`) over a {@link KvApi}, so
 * `redis-cli`, `redis-benchmark` and Redis clients such as ioredis work unchanged.
 *
 * Contract: commands follow Redis's reply shapes and error texts (see commands/); a store error is
 * answered, never thrown; malformed input gets `-ERR Protocol error: ...` and the connection
 * closes; every connection is bounded in buffered bytes, in-flight commands and unsent replies
 * (limits.ts); past `maxConnections` a new connection gets `-ERR max number of clients reached`
 * and is closed.
 *
 * @example
 * ```ts
 * const server = await serveResp({ kv: new MemoryKv({ clock: systemClock }), host: '127.0.0.1', port: 6379 });
 * // redis-cli -p 6379 set a 1
 * await server.close();
 * ```
 */
export async function serveResp(options: RespServerOptions): Promise<RespServer> {
  const limits = withLimits(DEFAULT_LIMITS, options.limits) as RespLimits;
  const clock = options.clock ?? systemClock;
  const connections = new Set<RespConnection>();
  const stats: RespStats = {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    connectionsOpen: 0,
    commandsProcessed: 0,
    errorReplies: 0,
    protocolErrors: 0,
    readPauses: 0,
    bytesIn: 0,
    bytesOut: 0,
    idleSweeps: 0,
  };
  const context: ServerContext = {
    kv: options.kv,
    clock,
    limits,
    auth: options.auth === undefined ? undefined : new RespAuthorizer(options.auth),
    logger: options.logger,
    stats,
    port: 0,
    sessions: function* () {
      for (const c of connections) yield c.session;
    },
    info: options.info,
    startedAt: clock.now(),
  };
  let nextId = 1;
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const remote = socket.remoteAddress ?? '?';
    const fromRemote = perAddress.get(remote) ?? 0;
    if (connections.size >= limits.maxConnections || fromRemote >= limits.maxConnectionsPerAddress) {
      stats.connectionsRejected++;
      socket.on('error', () => {});
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    perAddress.set(remote, fromRemote + 1);
    socket.on('close', () => {
      const n = (perAddress.get(remote) ?? 1) - 1;
      if (n <= 0) perAddress.delete(remote);
      else perAddress.set(remote, n);
    });
    stats.connectionsAccepted++;
    const session = newSession(nextId++, socket, clock.now(), context);
    if (options.consistency !== undefined) {
      session.readConsistency = options.consistency.read;
      session.writeConsistency = options.consistency.write;
    }
    const connection = new RespConnection(socket, context, session);
    connections.add(connection);
    stats.connectionsOpen = connections.size;
    socket.on('close', () => {
      connections.delete(connection);
      stats.connectionsOpen = connections.size;
    });
  });
  server.on('error', (err) => options.logger?.error({ err }, 'resp server error'));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Idle connections are found by a sweep, a few times per idle timeout (at most every 10 s).
  const sweep = setInterval(
    () => {
      const now = clock.now();
      for (const c of connections) c.closeIfIdle(now, limits.idleTimeoutMs);
      stats.idleSweeps++;
    },
    Math.min(10_000, Math.max(10, limits.idleTimeoutMs / 4)),
  );
  sweep.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  context.port = port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    endpoint: `${host}:${port}`,
    stats,
    async close() {
      clearInterval(sweep);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.end();
      // Connections that do not finish promptly (a client not reading) are cut.
      const cut = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 1000);
      cut.unref();
      await closed;
      clearTimeout(cut);
    },
  };
}

function newSession(id: number, socket: Socket, now: number, context: ServerContext): Session {
  return {
    id,
    addr: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    laddr: `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`,
    createdAt: now,
    lastCommandAt: now,
    proto: 2,
    name: '',
    libName: '',
    libVersion: '',
    readConsistency: 'QUORUM',
    writeConsistency: 'QUORUM',
    credential: undefined,
    authenticated: context.auth === undefined,
    lastCommand: 'NULL',
    closeAfterReply: false,
  };
}
