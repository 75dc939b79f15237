import { createServer, type Server, type Socket } from 'node:net';
import { assert } from '../../core/assert.js';
import { type Clock, systemClock, type TimerHandle } from '../../core/clock.js';
import { DeadlineQueue } from '../../core/deadline-queue.js';
import type { Logger } from '../../core/log.js';
import { GRPC } from '../errors.js';
import { ConnectionBudget, ServerBudget } from './connection-budget.js';
import { ConnectionLiveness } from './connection-liveness.js';
import {
  H2_INTERNAL_ERROR,
  type MethodCodec,
  type MethodHandler,
  ServerCall,
  trailersOnlyBlock,
} from './grpc-call.js';
import { type GrpcStatus, parseGrpcTimeout } from './grpc-wire.js';
import { H2Connection, type H2Stream } from './h2/connection.js';
import { encodeHeaderBlock } from './h2/hpack.js';

/**
 * A gRPC server on Cairn's own HTTP/2 connections over `net` sockets (cleartext, prior knowledge,
 * as gRPC clients connect; see h2/connection.ts for why not `node:http2`), made for the etcd API:
 * it routes `:path` `/<service>/<method>` to a handler, and runs each call as a {@link ServerCall}.
 * It replaces grpc-js's server, whose per-call machinery (interceptor call objects, metadata
 * copies, a timer per deadline, channelz trackers) cost about twice what the store spends on a
 * get (see the store DESIGN, "The etcd API surface").
 *
 * Contract:
 * - A request whose `content-type` is not `application/grpc[+...|;...]` gets HTTP 415, as gRPC
 *   servers answer; one not sent with POST gets HTTP 405.
 * - An unknown service or method gets UNIMPLEMENTED worded as grpc-go (`unknown service X`,
 *   `unknown method Y for service X`, `malformed method name: "..."`).
 * - A malformed `grpc-timeout` gets INTERNAL (`malformed grpc-timeout: ...`); a valid one is the
 *   call's deadline, kept in one {@link DeadlineQueue} for the server.
 * - Limits: streams per connection (HTTP/2 SETTINGS), connections (over it, a new connection is
 *   closed at once), header list bytes per request (a stream over it is reset).
 * - Response bytes a connection holds unsent are counted ({@link ConnectionBudget}); while they are
 *   over `maxQueuedResponseBytesPerConnection` every new call on it is answered RESOURCE_EXHAUSTED
 *   before its handler runs, and streaming writes report backpressure until it drains. A
 *   connection that stays over with nothing flushed for `queuedResponseStallMs` is sent GOAWAY
 *   and destroyed, with a warning naming the peer.
 * - Request bytes a connection's calls hold (partial messages, unary requests not yet ended) are
 *   counted too; a call whose bytes take it over `maxBufferedRequestBytesPerConnection` is
 *   refused with RESOURCE_EXHAUSTED and its bytes dropped.
 * - Both counts are also kept for the whole server ({@link ServerBudget}): while a total is over
 *   `maxQueuedResponseBytes` or `maxBufferedRequestBytes`, connections holding more than
 *   `connectionShareBytes` are treated as over their own limit (refused, backpressured, cut when
 *   they stall), so `maxConnections` connections cannot make the node hold their product.
 * - A connection with no call open for `idleConnectionMs` is closed gracefully (GOAWAY, no error);
 *   every `keepAliveIntervalMs` its peer is pinged, and one that does not answer within
 *   `keepAliveTimeoutMs` is cut ({@link ConnectionLiveness}).
 * - A call whose request does not stream (unary and server-streaming) must have its request
 *   whole, half-close included, within `requestArrivalMs` of its headers, or it is answered
 *   DEADLINE_EXCEEDED (`grpc: the request did not arrive within N ms`) and its stream slot freed:
 *   a client that sends headers and then nothing holds no slot for longer.
 * - {@link close} stops accepting, sends GOAWAY on every connection, lets calls in flight finish
 *   for `closeGraceMs`, then destroys what is left (open streams are cancelled) and resolves.
 *   Nothing a client sends throws out of the server.
 */

/** Limits of {@link GrpcServer}; see the etcd API's DEFAULT_LIMITS for their reasons. */
export interface GrpcServerLimits {
  readonly maxMessageBytes: number;
  readonly maxStreamsPerConnection: number;
  readonly maxConnections: number;
  readonly maxHeaderListBytes: number;
  readonly closeGraceMs: number;
  readonly maxQueuedResponseBytesPerConnection: number;
  readonly streamHighWaterBytes: number;
  readonly maxBufferedRequestBytesPerConnection: number;
  readonly queuedResponseStallMs: number;
  readonly requestArrivalMs: number;
  readonly maxQueuedResponseBytes: number;
  readonly maxBufferedRequestBytes: number;
  readonly connectionShareBytes: number;
  readonly idleConnectionMs: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveTimeoutMs: number;
}

/** What the server keeps per open connection. */
interface Connection {
  readonly budget: ConnectionBudget;
  readonly liveness: ConnectionLiveness;
  /** Resolved when the connection closes (server shutdown waits on them). */
  readonly closeWaiters: Array<() => void>;
}

/** A method as registered: its codec and handler. */
interface Route {
  readonly codec: MethodCodec;
  readonly handler: MethodHandler;
}

/** grpc-go's content-type check: `application/grpc`, optionally followed by `+subtype` or `;params`. */
function isGrpcContentType(value: unknown): boolean {
  if (typeof value !== 'string' || !value.startsWith('application/grpc')) return false;
  const next = value.charAt(16);
  return next === '' || next === '+' || next === ';';
}

/** HTTP/2's ENHANCE_YOUR_CALM (RFC 9113 §7): a connection cut for what it made the server hold. */
const H2_ENHANCE_YOUR_CALM = 11;

/** The peer's address, for logs. */
function peerOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

const METHOD_NOT_ALLOWED_BLOCK = encodeHeaderBlock([[':status', '405']]);
const UNSUPPORTED_MEDIA_TYPE_BLOCK = encodeHeaderBlock([[':status', '415']]);

/** A call refused before it started: its status alone, and its slot counted until it closes. */
function refuseCall(stream: H2Stream, liveness: ConnectionLiveness, status: GrpcStatus): void {
  stream.listener = new RefusedListener(liveness);
  stream.respond(trailersOnlyBlock(status), true);
}

/** A refused call's stream: nothing to read; its close frees its slot in the liveness count. */
class RefusedListener {
  constructor(private readonly liveness: ConnectionLiveness) {}
  data(): void {}
  end(): void {}
  drain(): void {}
  close(): void {
    this.liveness.callClosed();
  }
}

/** A stream answered at the HTTP level (405, 415) or reset: nothing to hear. */
const NO_LISTENER = { data() {}, end() {}, drain() {}, close() {} };

export class GrpcServer {
  private readonly routes = new Map<string, Route>();
  /** Fully qualified names of the services registered, for grpc-go's UNIMPLEMENTED wording. */
  private readonly services = new Set<string>();
  /** Open connections, with the bytes each holds and its idle and keep-alive timers. */
  private readonly sessions = new Map<H2Connection, Connection>();
  /** The bytes all connections hold together. */
  private readonly budget: ServerBudget;
  private readonly deadlines: DeadlineQueue;
  private readonly server: Server;
  private closing: Promise<void> | undefined = undefined;

  constructor(
    private readonly limits: GrpcServerLimits,
    private readonly clock: Clock = systemClock,
    private readonly logger?: Logger,
  ) {
    this.deadlines = new DeadlineQueue(clock);
    this.budget = new ServerBudget(
      {
        maxQueuedResponseBytes: limits.maxQueuedResponseBytes,
        maxBufferedRequestBytes: limits.maxBufferedRequestBytes,
        connectionShareBytes: limits.connectionShareBytes,
        stallMs: limits.queuedResponseStallMs,
      },
      clock,
    );
    // Response bytes a connection queues are bounded by its ConnectionBudget, which answers with a
    // gRPC status and lets a single response larger than the bound through.
    this.server = createServer({ noDelay: true }, (socket) => this.onSocket(socket));
    this.server.maxConnections = limits.maxConnections;
    this.server.on('error', () => {});
  }

  /**
   * Registers `service` (fully qualified, e.g. `etcdserverpb.KV`): each method of `codecs` with
   * the handler of the same name. A missing handler, or one of the wrong shape, is a bug: it fails
   * an assertion.
   */
  addService(
    service: string,
    codecs: Readonly<Record<string, MethodCodec>>,
    handlers: Readonly<Record<string, MethodHandler>>,
  ): void {
    this.services.add(service);
    for (const [name, codec] of Object.entries(codecs)) {
      const handler = handlers[name];
      assert(handler !== undefined, () => `no handler for ${service}/${name}`);
      const streaming = codec.requestStream || codec.responseStream;
      assert(
        (handler.kind === 'stream') === streaming,
        () => `${service}/${name} needs a ${streaming ? 'stream' : 'unary'} handler`,
      );
      this.routes.set(`/${service}/${name}`, { codec, handler });
    }
  }

  /** Binds `host:port` (0 picks a port); resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  /** Open HTTP/2 connections (for tests). */
  get connections(): number {
    return this.sessions.size;
  }

  /** Response bytes each open connection holds unsent (for tests and stats). */
  queuedResponseBytes(): number[] {
    return [...this.sessions.values()].map((c) => c.budget.queued);
  }

  /** Stops the server; see the class contract. Calling it again returns the same promise. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    let grace: TimerHandle | undefined;
    if (this.sessions.size > 0) {
      const drained = Promise.all([...this.sessions.keys()].map((s) => this.closedOf(s)));
      for (const s of this.sessions.keys()) s.close();
      await Promise.race([
        drained,
        new Promise<void>((resolve) => {
          grace = this.clock.setTimer(this.limits.closeGraceMs, resolve);
        }),
      ]);
      if (grace !== undefined) this.clock.cancel(grace);
      for (const s of this.sessions.keys()) s.destroy();
      await drained;
    }
    this.deadlines.clear();
    this.budget.dispose();
    await stopped;
  }

  /** Resolves once `connection` closed (onClose). */
  private closedOf(connection: H2Connection): Promise<void> {
    const record = this.sessions.get(connection);
    if (record === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => record.closeWaiters.push(resolve));
  }

  private onSocket(socket: Socket): void {
    socket.on('error', () => {});
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const closeWaiters: Array<() => void> = [];
    let record: Connection | undefined;
    const connection = new H2Connection(
      socket,
      {
        maxConcurrentStreams: this.limits.maxStreamsPerConnection,
        maxHeaderListBytes: this.limits.maxHeaderListBytes,
        streamHighWaterBytes: this.limits.streamHighWaterBytes,
      },
      {
        onStream: (stream) => this.onStream(stream),
        onClose: () => {
          if (record === undefined) return;
          record.budget.dispose();
          record.liveness.dispose();
          this.sessions.delete(connection);
          for (const w of closeWaiters) w();
        },
      },
    );
    const budget = new ConnectionBudget(
      {
        maxQueuedResponseBytes: this.limits.maxQueuedResponseBytesPerConnection,
        maxBufferedRequestBytes: this.limits.maxBufferedRequestBytesPerConnection,
        stallMs: this.limits.queuedResponseStallMs,
      },
      this.clock,
      () => this.onStalled(connection, budget),
      this.budget,
    );
    const liveness = new ConnectionLiveness(
      {
        idleMs: this.limits.idleConnectionMs,
        keepAliveIntervalMs: this.limits.keepAliveIntervalMs,
        keepAliveTimeoutMs: this.limits.keepAliveTimeoutMs,
      },
      this.clock,
      {
        ping: (onAck) => connection.ping(onAck),
        closeIdle: () => connection.close(),
        closeDead: () => {
          this.logger?.warn(
            { peer: peerOf(socket), timeoutMs: this.limits.keepAliveTimeoutMs },
            'etcd API: closing a connection whose peer does not answer pings',
          );
          connection.destroy();
        },
      },
    );
    record = { budget, liveness, closeWaiters };
    this.sessions.set(connection, record);
  }

  /** A connection stayed over its queued-response limit with nothing flushed: cut it. */
  private onStalled(connection: H2Connection, budget: ConnectionBudget): void {
    this.logger?.warn(
      {
        peer: peerOf(connection.socket),
        queuedBytes: budget.queued,
        limitBytes: budget.limit,
        serverQueuedBytes: this.budget.queued,
        serverLimitBytes: this.budget.limit,
        stallMs: this.limits.queuedResponseStallMs,
      },
      'etcd API: closing a connection that reads none of its queued responses',
    );
    connection.goaway(H2_ENHANCE_YOUR_CALM);
  }

  private onStream(stream: H2Stream): void {
    try {
      this.route(stream);
    } catch {
      if (!stream.closed) stream.reset(H2_INTERNAL_ERROR);
    }
  }

  private route(stream: H2Stream): void {
    const headers = stream.headers;
    if (headers[':method'] !== 'POST') {
      stream.listener = NO_LISTENER;
      stream.respond(METHOD_NOT_ALLOWED_BLOCK, true);
      return;
    }
    if (!isGrpcContentType(headers['content-type'])) {
      stream.listener = NO_LISTENER;
      stream.respond(UNSUPPORTED_MEDIA_TYPE_BLOCK, true);
      return;
    }
    const connection = this.sessions.get(stream.connection);
    if (connection === undefined) {
      stream.listener = NO_LISTENER;
      stream.reset(H2_INTERNAL_ERROR);
      return;
    }
    const { budget, liveness } = connection;
    liveness.callOpened();
    if (budget.over) {
      refuseCall(stream, liveness, budget.queuedRefusal());
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    if (route === undefined) {
      refuseCall(stream, liveness, this.unknown(path));
      return;
    }
    const timeout = headers['grpc-timeout'];
    let timeoutMs: number | undefined;
    if (typeof timeout === 'string') {
      timeoutMs = parseGrpcTimeout(timeout);
      if (timeoutMs === undefined) {
        refuseCall(stream, liveness, {
          code: GRPC.INTERNAL,
          details: `malformed grpc-timeout: ${JSON.stringify(timeout)} is not 1 to 8 digits and a unit (H, M, S, m, u, n)`,
        });
        return;
      }
    }
    // The call tells the liveness tracker when its stream closes, from its own 'close' listener.
    const call = new ServerCall(
      stream,
      route.codec,
      route.handler,
      this.limits.maxMessageBytes,
      budget,
      liveness,
    );
    if (timeoutMs !== undefined && !call.ended)
      call.setDeadline(this.deadlines.add(timeoutMs, () => call.expire()));
    // A deadline no later than the arrival bound ends a late request first (the arrival entry
    // would find the call ended): most clients set one, and they are spared a second entry.
    const arrivalMs = this.limits.requestArrivalMs;
    const deadlineFirst = timeoutMs !== undefined && timeoutMs <= arrivalMs;
    if (!route.codec.requestStream && call.awaitingRequest && !deadlineFirst)
      call.setArrivalDeadline(this.deadlines.add(arrivalMs, () => call.requestLate(arrivalMs)));
  }

  /** grpc-go's UNIMPLEMENTED for a path no method serves. */
  private unknown(path: string): GrpcStatus {
    const name = path.startsWith('/') ? path.slice(1) : path;
    const slash = name.lastIndexOf('/');
    if (slash < 0)
      return { code: GRPC.UNIMPLEMENTED, details: `malformed method name: ${JSON.stringify(path)}` };
    const service = name.slice(0, slash);
    const method = name.slice(slash + 1);
    return {
      code: GRPC.UNIMPLEMENTED,
      details: this.services.has(service)
        ? `unknown method ${method} for service ${service}`
        : `unknown service ${service}`,
    };
  }
}
