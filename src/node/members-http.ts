import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCairnError } from '../core/index.js';
import type { Membership } from '../membership/driver/membership.js';
import { DEFAULT_STATE_CONFIG } from '../membership/state/index.js';
import type { Member, MemberState, StateValue } from '../membership/types.js';
import { MembersWatch } from './members-watch.js';

/**
 * The membership routes of the agent's HTTP server (`/v1`).
 *
 * - `GET /v1/members`: the cluster as this node sees it, `{ node, members: [MemberJson...] }`,
 *   members sorted by name then id, this node included (`local: true`). The `x-cairn-index`
 *   header carries the view index; `?index=<it>&wait=<ms>` answers once the view changed
 *   (a blocking read, members-watch.ts).
 * - `GET /v1/members/:id`: one member, 404 when this node does not know it.
 * - `PUT /v1/local/:key` with `{ "value": "text" }` or `{ "value": { "base64": "..." } }`: sets
 *   a key of this node's own state (signed and gossiped to every node). `DELETE /v1/local/:key`
 *   deletes it. Both are accepted only from loopback clients (403 otherwise): there is no
 *   authentication yet, and capability tokens will protect them in a later issue.
 *
 * Values in JSON: a string value is a JSON string; a byte value is `{ "base64": "..." }` (an
 * object is never a string, so the marker is unambiguous). Every route answers 503 while the
 * membership role is not running (not configured, starting or stopping). Errors are
 * `{ "error": "sentence" }`.
 */

/** A member as `/v1/members` returns it. */
export interface MemberJson {
  /** NodeId. */
  id: string;
  /** Human-readable name. */
  name: string;
  /** Gossip address (`host:port`). */
  address: string;
  /** `alive`, `suspect`, `dead` or `left`. */
  state: MemberState;
  /** SWIM incarnation within the generation. */
  incarnation: number;
  /** Grows with every restart of the member. */
  generation: number;
  /** Key/value state: strings as strings, bytes as `{ base64 }`. */
  metadata: Record<string, JsonStateValue>;
  /** True for the answering node itself. */
  local: boolean;
}

/** A state value in JSON: a string, or bytes as base64 under a marker key. */
export type JsonStateValue = string | { base64: string };

/** The body of `GET /v1/members`. */
export interface MembersJson {
  /** NodeId of the node that answered. */
  node: string;
  /** Every member it knows, itself included. */
  members: MemberJson[];
}

/** The response header of `GET /v1/members` that carries the view index (see members-watch.ts). */
export const INDEX_HEADER = 'x-cairn-index';

/** Limits of the `/v1` routes. */
export const MEMBERS_HTTP_LIMITS = Object.freeze({
  /**
   * Largest request body of `PUT /v1/local/:key`: a value is at most a few hundred bytes
   * (membership's `maxValueBytes`, 512 by default), base64 adds a third.
   */
  maxBodyBytes: 16 * 1024,
});

/** A state value as JSON. */
export function stateValueToJson(value: StateValue): JsonStateValue {
  return typeof value === 'string' ? value : { base64: Buffer.from(value).toString('base64') };
}

/** A member as JSON (see {@link MemberJson}). */
export function memberToJson(m: Member): MemberJson {
  const metadata: Record<string, JsonStateValue> = {};
  for (const key of Object.keys(m.metadata).sort()) metadata[key] = stateValueToJson(m.metadata[key]!);
  return {
    id: m.id,
    name: m.name,
    address: m.address,
    state: m.state,
    incarnation: m.incarnation,
    generation: m.generation,
    metadata,
    local: m.local,
  };
}

/** `{ node, members }` for one membership node, members sorted by name then id. */
export function membersJson(membership: Membership): MembersJson {
  const members = membership
    .members()
    .map(memberToJson)
    .sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1));
  return { node: membership.id, members };
}

/** True for a loopback peer address (127.0.0.0/8, ::1, and IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** Why a request body is refused (a 400 answer). */
class BadRequest extends Error {}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseValue(body: unknown, maxValueBytes: number): StateValue {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest('the body must be a JSON object { "value": "..." }');
  }
  const extra = Object.keys(body).filter((k) => k !== 'value');
  if (extra.length > 0)
    throw new BadRequest(`unknown field "${extra[0]}" in the body; only "value" is allowed`);
  const value = (body as { value?: unknown }).value;
  let parsed: StateValue;
  if (typeof value === 'string') {
    parsed = value;
  } else if (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    typeof (value as { base64?: unknown }).base64 === 'string'
  ) {
    const text = (value as { base64: string }).base64;
    if (text.length % 4 !== 0 || !BASE64.test(text)) throw new BadRequest('value.base64 is not valid base64');
    parsed = new Uint8Array(Buffer.from(text, 'base64'));
  } else {
    throw new BadRequest('"value" must be a string or { "base64": "..." }');
  }
  const size = typeof parsed === 'string' ? Buffer.byteLength(parsed, 'utf8') : parsed.length;
  if (size > maxValueBytes) {
    throw new BadRequest(`the value is ${size} bytes; the limit is ${maxValueBytes} bytes (maxValueBytes)`);
  }
  return parsed;
}

function checkKey(key: string, maxKeyBytes: number): void {
  const size = Buffer.byteLength(key, 'utf8');
  if (size === 0) throw new BadRequest('the key must not be empty');
  if (size > maxKeyBytes) {
    throw new BadRequest(`the key is ${size} bytes; the limit is ${maxKeyBytes} bytes (maxKeyBytes)`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new BadRequest('the key must not contain control characters');
}

/**
 * Adds the `/v1` membership routes to `app`.
 *
 * @param app - the agent's fastify app (before it listens)
 * @param membership - the running membership node, or undefined when the role is not running
 */
export function registerMembersRoutes(app: FastifyInstance, membership: () => Membership | undefined): void {
  const running = (reply: FastifyReply): Membership | undefined => {
    const m = membership();
    if (m === undefined) {
      void reply.code(503).send({ error: 'the membership role is not running on this node' });
    }
    return m;
  };
  const loopbackOnly = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isLoopback(request.socket.remoteAddress)) {
      return reply.code(403).send({
        error: 'changing local state is allowed only from loopback clients (no authentication yet)',
      });
    }
  };
  const limits = (m: Membership) => ({
    maxKeyBytes: m.protocol.state.maxKeyBytes ?? DEFAULT_STATE_CONFIG.maxKeyBytes,
    maxValueBytes: m.protocol.state.maxValueBytes ?? DEFAULT_STATE_CONFIG.maxValueBytes,
  });
  const write = (reply: FastifyReply, fn: () => unknown) => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BadRequest) return reply.code(400).send({ error: err.message });
      if (isCairnError(err, 'INVALID_ARGUMENT') || isCairnError(err, 'LIMIT_EXCEEDED')) {
        return reply.code(400).send({ error: err.message });
      }
      throw err;
    }
  };

  const watch = new MembersWatch();
  // Waiting reads are answered before the server waits for in-flight requests to end.
  app.addHook('preClose', async () => watch.close());

  app.get<{ Querystring: { index?: string; wait?: string } }>('/v1/members', async (request, reply) => {
    let m = running(reply);
    if (m === undefined) return reply;
    const blocking = watch.parse(request.query);
    if (blocking !== undefined && 'error' in blocking) {
      return reply.code(blocking.status).send({ error: blocking.error });
    }
    if (blocking !== undefined) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      try {
        await watch.wait(m, blocking.index, blocking.waitMs, gone.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
      m = running(reply);
      if (m === undefined) return reply;
    }
    return reply.header(INDEX_HEADER, String(watch.index(m))).send(membersJson(m));
  });

  app.get<{ Params: { id: string } }>('/v1/members/:id', async (request, reply) => {
    const m = running(reply);
    if (m === undefined) return reply;
    const member = m.member(request.params.id as Member['id']);
    if (member === undefined) {
      return reply.code(404).send({ error: `this node knows no member ${request.params.id.slice(0, 80)}` });
    }
    return reply.send(memberToJson(member));
  });

  app.put<{ Params: { key: string } }>(
    '/v1/local/:key',
    { onRequest: loopbackOnly, bodyLimit: MEMBERS_HTTP_LIMITS.maxBodyBytes },
    async (request, reply) => {
      const m = running(reply);
      if (m === undefined) return reply;
      const key = request.params.key;
      return write(reply, () => {
        const { maxKeyBytes, maxValueBytes } = limits(m);
        checkKey(key, maxKeyBytes);
        const value = parseValue(request.body, maxValueBytes);
        m.local.set(key, value);
        return reply.send({ key, value: stateValueToJson(value) });
      });
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/v1/local/:key',
    { onRequest: loopbackOnly },
    async (request, reply) => {
      const m = running(reply);
      if (m === undefined) return reply;
      const key = request.params.key;
      return write(reply, () => {
        checkKey(key, limits(m).maxKeyBytes);
        const existed = m.local.get(key) !== undefined;
        if (existed) m.local.delete(key);
        return reply.send({ key, deleted: existed });
      });
    },
  );
}
