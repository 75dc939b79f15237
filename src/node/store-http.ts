import type { FastifyInstance } from 'fastify';

/**
 * `GET /v1/store/status`: the consistent store as this node sees it, for `cairn store status`.
 * Answers 503 with `{ error }` when the node runs no store role or it is not running.
 */

/** One member of the store's raft group. */
export interface StoreMemberJson {
  /** Member id (the raft node id), as 16 hex digits like etcdctl prints it. */
  id: string;
  name: string;
  /** Where its etcd API listens. */
  clientUrls: string[];
  /** Its peer address (the gossip address raft traffic uses). */
  peerUrls: string[];
  isLearner: boolean;
}

/** The body of `GET /v1/store/status`. */
export interface StoreStatusJson {
  /** This node's member id (16 hex digits) and name. */
  id: string;
  name: string;
  /** The leader's member id and name; empty when no leader is known. */
  leader: string;
  leaderName: string;
  role: string;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  /** The MVCC store's current and compacted revisions. */
  revision: number;
  compactRevision: number;
  members: StoreMemberJson[];
  learners: StoreMemberJson[];
}

/** Something that can report the store's status, or undefined while it does not run. */
export type StoreStatusSource = () => StoreStatusJson | undefined;

/** Registers `/v1/store/status`. */
export function registerStoreRoutes(app: FastifyInstance, status: StoreStatusSource): void {
  app.get('/v1/store/status', async (_request, reply) => {
    const body = status();
    if (body === undefined) {
      return reply.code(503).send({ error: 'this node runs no store, or the store is not running' });
    }
    return reply.send(body);
  });
}
