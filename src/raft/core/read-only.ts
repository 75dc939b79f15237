import { toHex } from '../../core/bytes.js';
import type { Message, NodeId } from '../types.js';

/** A read request waiting for a heartbeat round to confirm the leader's leadership. */
export interface PendingRead {
  /** The commit index when the request arrived: the read may be served once applied reaches it. */
  readonly index: number;
  /** The request (local, or a follower's forwarded `readIndex`). */
  readonly req: Message;
  readonly acks: Map<NodeId, boolean>;
}

/**
 * A leader's pending linearizable reads (etcd-io/raft's read_only.go, ReadOnlySafe only). Each
 * request records the commit index, then a heartbeat round carrying its context confirms that
 * this node was still leader when the request arrived. A quorum of acknowledgements for a context
 * also confirms every request queued before it.
 */
export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private readonly queue: string[] = [];

  /** Requests waiting. */
  get size(): number {
    return this.queue.length;
  }

  /** Queues a request with its context; a repeated context is ignored. */
  addRequest(index: number, req: Message, ctx: Uint8Array): void {
    const key = toHex(ctx);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, req, acks: new Map() });
    this.queue.push(key);
  }

  /** Records `id`'s heartbeat answer for `ctx`; returns the acks so far, or undefined if unknown. */
  recvAck(id: NodeId, ctx: Uint8Array): ReadonlyMap<NodeId, boolean> | undefined {
    const rs = this.pending.get(toHex(ctx));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Removes and returns every request up to and including the one with `ctx`, in order. */
  advance(ctx: Uint8Array): PendingRead[] {
    const key = toHex(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: PendingRead[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      this.pending.delete(k);
      if (rs !== undefined) out.push(rs);
    }
    return out;
  }

  /** The context of the newest request, carried by the next heartbeat round. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.context;
  }
}
