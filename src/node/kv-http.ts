import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StreamProgress } from '../kv/cluster/elastic.js';
import type { KvNodeStatus } from '../kv/cluster/kv-node.js';
import type { RingInfo } from '../kv/types.js';
import { isLoopback } from './members-http.js';

/**
 * The kv routes of the agent's HTTP server, for `cairn kv ring|decommission` and operators.
 *
 * - `GET /v1/kv/status`: this node on the ring ({@link KvStatusJson}): status, tokens, hints
 *   pending, the last join or decommission's streaming progress, repair and request counters.
 * - `GET /v1/kv/ring`: the ring as this node sees it ({@link KvRingJson}).
 * - `POST /v1/kv/decommission`: starts streaming this node's ranges to their new owners, then
 *   leaving the ring; answers 202 at once (progress shows in the status), 409 when the node
 *   cannot be decommissioned now (already leaving, joining, or too few other nodes) with the
 *   reason. Accepted from loopback clients, or from anywhere with `Authorization: Bearer <token>`
 *   minted from the cluster's token root keys (audience `http`, operation `kv:decommission`).
 * - `POST /v1/kv/removenode` with `{ "node": "<name>" }`: starts taking that node, gone for good
 *   without decommissioning, off the ring (its ranges are copied to their new owners from the
 *   surviving replicas); 202 at once, 400 for a bad body, 409 with the reason when refused (the
 *   node is alive, unknown, this node is busy, too few nodes would remain). The same access rule,
 *   with operation `kv:removenode`.
 *
 * Every route answers 503 `{ error }` while the node runs no kv role or it is not running.
 */

/** The last decommission started through this node's API. */
export interface KvDecommissionJson {
  /** `running` while it streams, then `done` or `failed`. */
  state: 'running' | 'done' | 'failed';
  /** Why it failed. */
  error?: string;
}

/** The last removal started through this node's API. */
export interface KvRemovalJson {
  /** The node being removed. */
  node: string;
  /** `running` while it streams, then `done` or `failed`. */
  state: 'running' | 'done' | 'failed';
  /** Why it failed. */
  error?: string;
}

/** The operations of the admin routes, as a capability token names them. */
export type KvAdminOp = 'kv:decommission' | 'kv:removenode';

/** The body of `GET /v1/kv/status`. */
export interface KvStatusJson {
  name: string;
  /** `joining`, `normal`, `leaving` or `left` (decommissioned). */
  status: KvNodeStatus['ring'];
  /** This node's tokens, as decimal strings (64-bit), sorted; empty once it left. */
  tokens: string[];
  rf: number;
  /** Where this node serves the Redis protocol (`host:port`). */
  resp: string;
  /** The last join or decommission's progress, when there was one. */
  streaming?: StreamProgress;
  /** The decommission started through the API, when there was one. */
  decommission?: KvDecommissionJson;
  /** The removal started through this node's API, when there was one. */
  removal?: KvRemovalJson;
  /** Hint bytes waiting, per target node. */
  hintsPending: Record<string, number>;
  handoff: KvNodeStatus['handoff'];
  antiEntropy: KvNodeStatus['antiEntropy'];
  coordinator: KvNodeStatus['coordinator'];
  replica: KvNodeStatus['replica'];
  clock: KvNodeStatus['clock'];
}

/** One node of `GET /v1/kv/ring`. */
export interface KvRingNodeJson {
  name: string;
  status: 'joining' | 'normal' | 'leaving';
  /** Its Redis-protocol address, or '' when it advertises none. */
  resp: string;
  /** Its tokens as decimal strings, sorted. */
  tokens: string[];
}

/** The body of `GET /v1/kv/ring`. */
export interface KvRingJson {
  /** The node that answered. */
  node: string;
  rf: number;
  /** Nodes sorted by name. */
  nodes: KvRingNodeJson[];
}

/** What the routes need from the kv role. */
export interface KvHttpSource {
  /** The status, or undefined while the node does not run. */
  status(): KvStatusJson | undefined;
  /** The ring, or undefined while the node does not run. */
  ring(): KvRingJson | undefined;
  /** Starts a decommission: `{ error }` when refused at once. */
  decommission(): Promise<{ error?: string }>;
  /** Starts removing node `name` from the ring: `{ error }` when refused at once. */
  removeNode(name: string): Promise<{ error?: string }>;
  /** Why a bearer token (its text, or undefined when none came) may not do `op`; undefined when it may. */
  tokenDenial(token: string | undefined, op: KvAdminOp): string | undefined;
}

/** The ring of `info` as JSON for the node `self`. */
export function ringToJson(self: string, info: RingInfo): KvRingJson {
  return {
    node: self,
    rf: info.rf,
    nodes: info.nodes
      .map((n) => ({
        name: n.name,
        status: n.status,
        resp: n.resp ?? '',
        tokens: sortedTokens(n.tokens),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/** Tokens sorted by value, as decimal strings. */
export function sortedTokens(tokens: readonly bigint[]): string[] {
  return [...tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Registers the `/v1/kv` routes. */
export function registerKvRoutes(app: FastifyInstance, source: () => KvHttpSource | undefined): void {
  const running = (reply: FastifyReply): KvHttpSource | undefined => {
    const s = source();
    if (s === undefined)
      void reply.code(503).send({ error: 'this node runs no kv role, or it is not running' });
    return s;
  };
  const answer = <T>(reply: FastifyReply, body: T | undefined) =>
    body === undefined ? reply.code(503).send({ error: 'the kv node is not running' }) : reply.send(body);
  app.get('/v1/kv/status', async (_request, reply) => {
    const s = running(reply);
    return s === undefined ? reply : answer(reply, s.status());
  });
  app.get('/v1/kv/ring', async (_request, reply) => {
    const s = running(reply);
    return s === undefined ? reply : answer(reply, s.ring());
  });
  const admitted = (
    request: FastifyRequest,
    reply: FastifyReply,
    s: KvHttpSource,
    op: KvAdminOp,
  ): boolean => {
    if (isLoopback(request.socket.remoteAddress)) return true;
    const denial = s.tokenDenial(bearer(request), op);
    if (denial === undefined) return true;
    void reply.code(403).send({ error: denial });
    return false;
  };
  app.post('/v1/kv/decommission', async (request, reply) => {
    const s = running(reply);
    if (s === undefined || !admitted(request, reply, s, 'kv:decommission')) return reply;
    const started = await s.decommission();
    if (started.error !== undefined) return reply.code(409).send({ error: started.error });
    return reply.code(202).send({ started: true });
  });
  app.post('/v1/kv/removenode', async (request, reply) => {
    const s = running(reply);
    if (s === undefined || !admitted(request, reply, s, 'kv:removenode')) return reply;
    const body = request.body as { node?: unknown } | undefined;
    const node = typeof body === 'object' && body !== null ? body.node : undefined;
    if (typeof node !== 'string' || node.length === 0 || Buffer.byteLength(node) > MAX_NODE_NAME_BYTES) {
      return reply
        .code(400)
        .send({ error: `the body must be {"node": "<name>"}, a name of 1 to ${MAX_NODE_NAME_BYTES} bytes` });
    }
    const started = await s.removeNode(node);
    if (started.error !== undefined) return reply.code(409).send({ error: started.error });
    return reply.code(202).send({ started: true });
  });
}

/** Longest node name the removal route takes (the ring's bound on names). */
const MAX_NODE_NAME_BYTES = 256;
