import type { ResponseHeader, Watch, WatchEvent, WatchResponse } from '../api.js';
import { StoreError } from '../errors.js';
import { type EtcdContext, guard } from './context.js';
import { type Proto, watchCreateFromProto } from './convert.js';
import type { MethodHandler, ServerCall } from './grpc-call.js';
import { refusalOf, statusOf, streaming } from './grpc-service.js';
import { int64 } from './int64.js';
import { encodeWatchResponse } from './kv-codec.js';

/** A response the stream writes, as the Watch method's serializer ({@link encodeWatchOut}) takes it. */
export class WatchOut {
  constructor(
    readonly response: WatchResponse,
    /** The stream's id for the watch (the store's own id is not the client's). */
    readonly watchId: number,
    readonly fragment: boolean,
  ) {}
}

/** The Watch method's response serializer: {@link encodeWatchResponse} of a {@link WatchOut}. */
export function encodeWatchOut(out: WatchOut): Buffer {
  return encodeWatchResponse(out.response, out.watchId, out.fragment);
}

/**
 * One Watch stream: many watches multiplexed on a bidirectional gRPC stream, with watch ids
 * local to the stream (the client's when it asks for one, else the lowest free one), as etcd.
 *
 * Contract per watch: the `created` response comes first; then the store's responses in order,
 * relabelled with the stream's watch id; a compacted start gets `canceled` with
 * `compact_revision`; a client cancel is answered `canceled` and nothing follows it.
 *
 * Progress requests are answered once per stream, as etcd 3.4's `recvLoop`: one response with
 * `watch_id` -1, no events, and a header carrying the member's current revision (read locally,
 * serializable), whatever watches the stream holds (none included). Like etcd 3.4, that says
 * nothing about watches still catching up from an older revision.
 *
 * Backpressure: when the call's write buffer is full (`write` returns false), each watch that
 * delivers is told to pause (its `onResponse` returns false) and is resumed on 'drain'; the
 * store then catches it up from where it stopped. A store whose watches cannot pause is bounded
 * by `maxWatchBufferedBytes`: past it the watch is canceled with a reason rather than buffered.
 */

interface Slot {
  readonly id: number;
  store: Watch | undefined;
  /** Canceled by the client before the store finished creating it. */
  canceled: boolean;
  paused: boolean;
  readonly fragment: boolean;
}

/** A key read only for its header: the progress answer's current revision. */
const PROGRESS_PROBE_KEY = Uint8Array.of(0);
const ZERO_HEADER: ResponseHeader = { clusterId: 0, memberId: 0, revision: 0, raftTerm: 0 };
/** Bytes a response costs beyond its keys and values (headers, framing), for buffering estimates. */
const RESPONSE_OVERHEAD_BYTES = 64;

function eventBytes(e: WatchEvent): number {
  return (
    e.kv.key.length + e.kv.value.length + (e.prevKv ? e.prevKv.key.length + e.prevKv.value.length : 0) + 48
  );
}

class WatchStream {
  private readonly slots = new Map<number, Slot>();
  private header: ResponseHeader = ZERO_HEADER;
  private blocked = false;
  private bufferedBytes = 0;
  private open = true;
  private pendingProgress = 0;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly call: ServerCall,
  ) {
    call.listen({
      message: (req) => this.onRequest(req as Proto),
      end: () => {
        this.close();
        call.end();
      },
      cancel: () => this.close(),
      drain: () => this.onDrain(),
    });
  }

  private write(res: WatchOut, bytes: number): boolean {
    if (!this.open) return false;
    this.bufferedBytes += bytes;
    const ok = this.call.write(res, () => {
      this.bufferedBytes -= bytes;
    });
    if (!ok) this.blocked = true;
    return ok;
  }

  private onDrain(): void {
    this.blocked = false;
    for (const slot of this.slots.values()) {
      if (!slot.paused) continue;
      slot.paused = false;
      slot.store?.resume?.();
    }
  }

  private fail(err: unknown): void {
    if (!this.open) return;
    this.close();
    this.call.fail(statusOf(err));
  }

  private onRequest(req: Proto): void {
    if (!this.open) return;
    const refusal = refusalOf(req);
    if (refusal !== undefined) {
      this.fail(new StoreError('invalidArgument', refusal.details));
      return;
    }
    try {
      if (req.create_request != null) this.create(req.create_request as Proto);
      else if (req.cancel_request != null)
        this.cancel(int64((req.cancel_request as Proto).watch_id, 'watch_id'));
      else if (req.progress_request != null) this.progress();
    } catch (err) {
      this.fail(err);
    }
  }

  /** One progress answer for the stream (etcd 3.4): watch id -1 and the current revision. */
  private progress(): void {
    if (this.pendingProgress >= this.ctx.limits.maxPendingProgressRequests) return;
    this.pendingProgress++;
    this.ctx.store.range({ key: PROGRESS_PROBE_KEY, serializable: true, countOnly: true }).then(
      (r) => {
        this.pendingProgress--;
        if (r.header.revision >= this.header.revision) this.header = r.header;
        this.write(
          new WatchOut({ header: r.header, watchId: -1, events: [] }, -1, false),
          RESPONSE_OVERHEAD_BYTES,
        );
      },
      (err: unknown) => {
        this.pendingProgress--;
        this.fail(err);
      },
    );
  }

  /** Answers a create that could not be made: created and canceled at once, with the reason. */
  private refuseCreate(watchId: number, reason: string): void {
    const res: WatchResponse = {
      header: this.header,
      watchId,
      events: [],
      created: true,
      canceled: true,
      cancelReason: reason,
    };
    this.write(new WatchOut(res, watchId, false), RESPONSE_OVERHEAD_BYTES);
  }

  private freeId(): number {
    let id = 0;
    while (this.slots.has(id)) id++;
    return id;
  }

  private create(creq: Proto): void {
    const asked = int64(creq.watch_id, 'watch_id');
    let r: ReturnType<typeof watchCreateFromProto>;
    try {
      r = watchCreateFromProto(creq);
      guard(this.ctx, this.call.metadata, [{ op: 'store:read', key: r.key, rangeEnd: r.rangeEnd }]);
    } catch (err) {
      this.refuseCreate(asked !== 0 ? asked : -1, statusOf(err).details);
      return;
    }
    if (asked !== 0 && this.slots.has(asked)) {
      this.refuseCreate(asked, 'mvcc: duplicate watch ID provided on the WatchStream');
      return;
    }
    if (this.slots.size >= this.ctx.limits.maxWatchesPerStream) {
      this.refuseCreate(-1, new StoreError('tooManyRequests').message);
      return;
    }
    const slot: Slot = {
      id: asked !== 0 ? asked : this.freeId(),
      store: undefined,
      canceled: false,
      paused: false,
      fragment: r.fragment === true,
    };
    this.slots.set(slot.id, slot);
    this.ctx.store
      .watch(r, (res) => this.deliver(slot, res))
      .then(
        (w) => {
          slot.store = w;
          if (slot.canceled || !this.open) void w.cancel();
        },
        (err: unknown) => {
          this.slots.delete(slot.id);
          this.refuseCreate(slot.id, statusOf(err).details);
        },
      );
  }

  /** A store response for `slot`: relabel, split if asked, write; false asks the store to pause. */
  private deliver(slot: Slot, res: WatchResponse): boolean {
    if (slot.canceled || !this.open) return false;
    this.header = res.header;
    const bytes = RESPONSE_OVERHEAD_BYTES + res.events.reduce((n, e) => n + eventBytes(e), 0);
    if (
      slot.store !== undefined &&
      slot.store.resume === undefined &&
      this.bufferedBytes + bytes > this.ctx.limits.maxWatchBufferedBytes
    ) {
      this.drop(slot, 'etcdserver: watch stream buffer full, watcher too slow');
      return false;
    }
    const max = this.ctx.limits.maxRequestBytes;
    if (slot.fragment && bytes > max && res.events.length > 1) this.writeFragments(slot, res, max);
    else this.write(new WatchOut(res, slot.id, false), bytes);
    if (res.canceled === true) this.slots.delete(slot.id);
    if (this.blocked) slot.paused = true;
    return !this.blocked;
  }

  private writeFragments(slot: Slot, res: WatchResponse, max: number): void {
    let chunk: WatchEvent[] = [];
    let size = RESPONSE_OVERHEAD_BYTES;
    const flush = (last: boolean) => {
      this.write(new WatchOut({ ...res, events: chunk }, slot.id, !last), size);
      chunk = [];
      size = RESPONSE_OVERHEAD_BYTES;
    };
    for (const e of res.events) {
      const n = eventBytes(e);
      if (chunk.length > 0 && size + n > max) flush(false);
      chunk.push(e);
      size += n;
    }
    flush(true);
  }

  private drop(slot: Slot, reason: string): void {
    slot.canceled = true;
    this.slots.delete(slot.id);
    void slot.store?.cancel();
    const res: WatchResponse = {
      header: this.header,
      watchId: slot.id,
      events: [],
      canceled: true,
      cancelReason: reason,
    };
    this.write(new WatchOut(res, slot.id, false), RESPONSE_OVERHEAD_BYTES);
  }

  private cancel(watchId: number): void {
    const slot = this.slots.get(watchId);
    if (slot === undefined) return; // etcd ignores a cancel of an unknown id
    slot.canceled = true;
    this.slots.delete(watchId);
    const header = this.header;
    const answer = () =>
      this.write(
        new WatchOut({ header, watchId, events: [], canceled: true }, watchId, false),
        RESPONSE_OVERHEAD_BYTES,
      );
    if (slot.store === undefined) answer();
    else slot.store.cancel().then(answer, answer);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.ctx.watchStreams--;
    for (const slot of this.slots.values()) {
      slot.canceled = true;
      void slot.store?.cancel();
    }
    this.slots.clear();
  }
}

/** etcdserverpb.Watch/Watch. */
export function watchHandler(ctx: EtcdContext): MethodHandler {
  return streaming((call) => {
    if (ctx.watchStreams >= ctx.limits.maxWatchStreams) {
      call.fail(statusOf(new StoreError('tooManyRequests')));
      return;
    }
    ctx.watchStreams++;
    new WatchStream(ctx, call);
  });
}
