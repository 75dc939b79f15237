import type { Redis, RedisOptions } from 'ioredis';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { KvLevel, KvOutcome } from './history.js';

/**
 * One lab client of the partitioned store: ioredis on one agent's Redis-protocol port, with all of
 * its fault handling off, so every call is one attempt with a deadline and its outcome is known
 * as well as it can be:
 *
 * - no offline queue (a call while disconnected fails at once: never sent), no retries per
 *   request, no resending of unanswered commands after a reconnect (a resent SET would make a
 *   second version of the same value, later than its acknowledgement: the history would lie), no
 *   automatic reconnect (the next call dials again), no ready check;
 * - a deadline per call (`kvOpTimeoutMs`); a call past it is unknown, and the connection is
 *   dropped so a late reply can never be taken for the next call's;
 * - AUTH with a capability token (the RESP password) and `CAIRN CONSISTENCY <level>` on every new
 *   connection before its first call, so the level is set explicitly, not left to the default.
 *
 * ioredis is a development dependency: it is loaded when the first client connects.
 */

/** How one failed call is recorded, and under which name it is counted. */
export interface KvErrorClass {
  /** `fail`: certainly not applied; `unknown`: it may have been (or may still be). */
  outcome: Exclude<KvOutcome, 'ok'>;
  /** A short stable name for the figures: `resp:<CODE>`, `timeout`, `connect`, ... */
  kind: string;
}

/**
 * Store error codes answered before a write is sent to any replica: UNAVAILABLE is decided first,
 * CLOCK_SKEW refuses to coordinate (or every replica refused the version), the auth refusals come
 * before the command runs, and an `-ERR` other than an internal error is a refused argument.
 * TIMEOUT (some replicas may have the write), STOPPED and internal errors are unknown.
 */
const REFUSED = new Set(['UNAVAILABLE', 'CLOCK_SKEW', 'NOAUTH', 'WRONGPASS', 'NOPERM']);

/**
 * Classifies a failed call. A read changed nothing that a client could see (read repair only
 * copies existing versions), so it is always `fail`; a write is `fail` only when it provably never
 * reached a replica.
 *
 * @param err - what the call threw
 * @param isRead - a GET or MGET
 * @param sent - false when the connection could not be set up, so the command was never written
 */
export function classifyKvError(err: unknown, isRead: boolean, sent: boolean): KvErrorClass {
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  let kind: string;
  let refused = !sent;
  if (name === 'ReplyError') {
    const code = /^[A-Z_]+/.exec(message)?.[0] ?? 'ERR';
    kind = `resp:${code}`;
    if (REFUSED.has(code)) refused = true;
    else if (code === 'ERR' && !/internal error/i.test(message)) refused = true;
  } else if (/Command timed out/i.test(message)) kind = 'timeout';
  else if (/enableOfflineQueue|Stream isn't writeable/i.test(message)) {
    kind = 'not-connected';
    refused = true;
  } else if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(message)) {
    kind = sent ? 'connection-lost' : 'connect-refused';
  } else if (!sent) kind = 'connect';
  else kind = 'connection-lost';
  return { outcome: isRead || refused ? 'fail' : 'unknown', kind };
}

/** A call that failed while its connection was being set up: nothing of it was sent. */
class SetupError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'SetupError';
  }
}

/** True when `err` came from setting up the connection (the call was never sent). */
export function isSetupError(err: unknown): boolean {
  return err instanceof SetupError;
}

/**
 * The nodes a `CAIRN RING` reply (`[rf, [[name, resp, status, [tokens...]], ...]]`) lists with
 * status `normal`; an unexpected shape lists none.
 */
export function normalNodesOf(reply: unknown): string[] {
  if (!Array.isArray(reply) || !Array.isArray(reply[1])) return [];
  const out: string[] = [];
  for (const node of reply[1] as unknown[]) {
    if (Array.isArray(node) && typeof node[0] === 'string' && node[2] === 'normal') out.push(node[0]);
  }
  return out;
}

let redisClass: Promise<typeof import('ioredis').Redis> | undefined;

/** Options of {@link LabKvClient}. */
export interface LabKvClientOptions {
  /** The agent's address. */
  host: string;
  /** Its Redis-protocol port. */
  port: number;
  /** Capability token sent as the AUTH password; absent: no AUTH (loopback). */
  token?: string;
  /** Deadline of a call (and of dialling), ms; default `kvOpTimeoutMs`. */
  timeoutMs?: number;
}

/** See the file comment. */
export class LabKvClient {
  private redis: Redis | undefined;
  private level: KvLevel | undefined;
  private socketError: unknown;

  /** @param options - where to connect, the AUTH token, the deadline per call */
  constructor(private readonly options: LabKvClientOptions) {}

  /** SET key value at `level` (plain SET: a write, no read). */
  async set(key: string, value: string, level: KvLevel = 'QUORUM'): Promise<void> {
    const reply = await this.run(level, (r) => r.set(key, value));
    if (reply !== 'OK') throw new Error(`SET answered ${JSON.stringify(reply)}, not OK`);
  }

  /** GET key at `level`: the value, or null when absent. */
  get(key: string, level: KvLevel = 'QUORUM'): Promise<string | null> {
    return this.run(level, (r) => r.get(key));
  }

  /** DEL key at `level` (the store reads, then writes a tombstone): the count of live keys it found. */
  del(key: string, level: KvLevel = 'QUORUM'): Promise<number> {
    return this.run(level, (r) => r.del(key));
  }

  /** MGET keys at `level`: each key's value or null, in order. */
  mget(keys: readonly string[], level: KvLevel): Promise<(string | null)[]> {
    return this.run(level, (r) => r.mget(...keys));
  }

  /** CAIRN RING: the names of the nodes this node's ring lists `normal`. */
  async normalNodes(): Promise<string[]> {
    return normalNodesOf(await this.run('QUORUM', (r) => r.call('CAIRN', 'RING')));
  }

  /** Drops the connection. */
  close(): void {
    this.redis?.disconnect();
    this.redis = undefined;
    this.level = undefined;
  }

  /**
   * Runs one command on a connection set to `level`. Errors from the set-up are wrapped in a
   * `SetupError` ({@link isSetupError}); any error but a Redis error reply drops the connection.
   */
  private async run<T>(level: KvLevel, command: (r: Redis) => Promise<T>): Promise<T> {
    let redis: Redis;
    try {
      redis = await this.connection(level);
    } catch (err) {
      // ioredis rejects a failed dial with "Connection is closed."; the socket's own error
      // (ECONNREFUSED, ...) went to the error event first and says more.
      const cause = this.socketError ?? err;
      this.close();
      throw new SetupError(cause);
    }
    try {
      return await command(redis);
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ReplyError')) this.close();
      throw err;
    }
  }

  private async connection(level: KvLevel): Promise<Redis> {
    let redis = this.redis;
    if (redis === undefined) {
      redisClass ??= import('ioredis').then((m) => m.Redis);
      const Redis = await redisClass;
      const o = this.options;
      const timeout = o.timeoutMs ?? DEFAULT_LIMITS.kvOpTimeoutMs;
      const options: RedisOptions = {
        host: o.host,
        port: o.port,
        lazyConnect: true,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        retryStrategy: () => null,
        connectTimeout: timeout,
        commandTimeout: timeout,
        ...(o.token === undefined ? {} : { password: o.token }),
      };
      redis = new Redis(options);
      // Errors reach the caller through the call that met them; the event keeps the socket's.
      this.socketError = undefined;
      redis.on('error', (err: unknown) => {
        this.socketError = err;
      });
      this.redis = redis;
      this.level = undefined;
      await redis.connect();
    }
    if (this.level !== level) {
      const reply = await redis.call('CAIRN', 'CONSISTENCY', level);
      if (reply !== 'OK') throw new Error(`CAIRN CONSISTENCY ${level} answered ${JSON.stringify(reply)}`);
      this.level = level;
    }
    return redis;
  }
}
