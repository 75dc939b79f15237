import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { CairnError, describeError, type Logger, type Metrics } from '../core/index.js';
import type { Membership } from '../membership/driver/membership.js';
import { type KvHttpSource, registerKvRoutes } from './kv-http.js';
import { registerMembersRoutes } from './members-http.js';
import { bindFailureReason, systemErrorIn } from './ports.js';
import { printable } from './printable.js';
import { registerStoreRoutes, type StoreStatusSource } from './store-http.js';

/**
 * The agent's HTTP server (fastify).
 *
 * Routes: `GET /health` (JSON; 200 while the node is up, 503 while it stops or when a role failed),
 * `GET /metrics` (Prometheus text of the node's registry) and the membership routes under `/v1`
 * (members-http.ts), the store's (store-http.ts) and kv's (kv-http.ts). Later bricks add the rest of the REST API and the dashboard here. Fastify's own request logging is off (health checks poll often and would
 * drown the log); errors are logged through the agent's logger: 5xx at error, 4xx (the client's
 * mistake, as many as a client wants to cause) at debug.
 */

/** The body of `GET /health`. */
export interface HealthReport {
  /** `ok` when serving, `degraded` when a role failed, `stopping` during shutdown. */
  status: 'ok' | 'degraded' | 'stopping';
  /** Node name. */
  name: string;
  /** Full NodeId. */
  nodeId: string;
  /** Short NodeId. */
  shortId: string;
  /** Cairn version. */
  version: string;
  /** Process id of the agent. */
  pid: number;
  /** Milliseconds since the agent started. */
  uptimeMs: number;
  /** Addresses of the node's services (`host:port`). */
  addresses: Record<string, string>;
  /** Each configured role and its health (`counts`: membership reports members by state). */
  roles: Record<string, { state: string; detail?: string; counts?: Readonly<Record<string, number>> }>;
}

/** What the HTTP server needs from the agent. */
export interface HttpDeps {
  /** Logger for server errors. */
  logger: Logger;
  /** The node's metrics. */
  metrics: Metrics;
  /** Builds the health report for one request. */
  health: () => HealthReport;
  /** The running membership node for `/v1/members`; default none (those routes answer 503). */
  membership?: () => Membership | undefined;
  /** The store's status for `/v1/store/status`; default none (that route answers 503). */
  storeStatus?: StoreStatusSource;
  /** The kv role's routes (`/v1/kv/...`); default none (they answer 503). */
  kv?: () => KvHttpSource | undefined;
}

/** Builds the fastify app with the agent's routes (not listening yet). */
export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  // Path parameters up to 1 KiB: a state key of `maxKeyBytes` (128 UTF-8 bytes) percent-encodes to
  // at most 384 characters, and a longer key must get the route's own 400 rather than a 414.
  // A stopping agent closes every connection at once, idle or not. Clients keep connections alive
  // (fetch for 4 s), and one that asked again as its blocking read was answered held `close()`
  // until its keep-alive ran out: a SIGTERMed agent took 4-10 s to stop, past the leave's budget.
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    routerOptions: { maxParamLength: 1024 },
  });
  const requests = deps.metrics.counter(
    'cairn_http_requests_total',
    'HTTP requests served, by route and status.',
    ['route', 'status'],
  );
  app.addHook('onResponse', async (request, reply) => {
    requests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });
  app.setErrorHandler(async (err, request, reply) => {
    const status =
      typeof (err as { statusCode?: unknown }).statusCode === 'number'
        ? (err as { statusCode: number }).statusCode
        : 500;
    // A 4xx is the client's mistake (bad JSON, a body too large), not the node's: any client can
    // cause as many as it likes, so they are logged at debug and only 5xx at error. The URL is
    // the client's text: escaped.
    const fields = { err: printable(describeError(err)), url: printable(request.url), status };
    if (status >= 500) deps.logger.error(fields, 'HTTP request failed');
    else deps.logger.debug(fields, 'HTTP request refused');
    return reply.code(status).send({ error: status >= 500 ? 'internal error' : describeError(err) });
  });
  app.get('/health', async (_request, reply) => {
    const report = deps.health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.text();
    return reply.type(deps.metrics.contentType).send(text);
  });
  registerMembersRoutes(app, deps.membership ?? (() => undefined));
  registerStoreRoutes(app, deps.storeStatus ?? (() => undefined));
  registerKvRoutes(app, deps.kv ?? (() => undefined));
  return app;
}

/**
 * Listens on `host:port` (port 0 picks a free one) and returns the bound port.
 *
 * @throws `AGENT_START_FAILED` naming the address when the port is taken or cannot be bound
 */
export async function listenHttp(app: FastifyInstance, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = systemErrorIn(err)?.code;
    throw new CairnError(
      'AGENT_START_FAILED',
      `HTTP port ${port} on ${host} ${bindFailureReason(code)} (${describeError(err)})`,
      {
        cause: err,
        details: { host, port, code },
      },
    );
  }
  const address = app.server.address() as AddressInfo | null;
  if (address === null)
    throw new CairnError('AGENT_START_FAILED', `HTTP server on ${host}:${port} has no address after listen`);
  return address.port;
}
