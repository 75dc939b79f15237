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
  /** Why a bearer token (its text, or undefined when none came) may not decommission; undefined when it may. */
  tokenDenial(token: string | undefined): string | undefined;
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
  app.post('/v1/kv/decommission', async (request, reply) => {
    const s = running(reply);
    if (s === undefined) return reply;
    if (!isLoopback(request.socket.remoteAddress)) {
      const denial = s.tokenDenial(bearer(request));
      if (denial !== undefined) return reply.code(403).send({ error: denial });
    }
    const started = await s.decommission();
    if (started.error !== undefined) return reply.code(409).send({ error: started.error });
    return reply.code(202).send({ started: true });
  });
}
