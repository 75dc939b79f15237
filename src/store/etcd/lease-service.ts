import { StoreError } from '../errors.js';
import { type EtcdContext, guard } from './context.js';
import { headerToProto, type Proto } from './convert.js';
import type { MethodHandler } from './grpc-call.js';
import { refusalOf, statusOf, streaming, unary } from './grpc-service.js';
import { int64 } from './int64.js';

const WRITE = [{ op: 'store:write', keyless: true }] as const;
const READ = [{ op: 'store:read', keyless: true }] as const;

/**
 * LeaseKeepAlive: one refresh per request, answered in order of completion with the lease's new
 * TTL (0 when it does not exist, as etcd). In-flight refreshes per stream are bounded; a client
 * over the bound gets etcd's `tooManyRequests` and the stream ends. While the answers cannot be
 * written (the stream's buffer is full, or its connection holds too many unsent response bytes)
 * the stream stops reading requests until they drain, so HTTP/2 flow control holds back a client
 * that sends keep-alives and reads no answers.
 */
function keepAlive(ctx: EtcdContext): MethodHandler {
  return streaming((call) => {
    if (ctx.keepAliveStreams >= ctx.limits.maxKeepAliveStreams) {
      call.fail(statusOf(new StoreError('tooManyRequests')));
      return;
    }
    ctx.keepAliveStreams++;
    let open = true;
    let inFlight = 0;
    const abort = new AbortController();
    const close = () => {
      if (!open) return;
      open = false;
      ctx.keepAliveStreams--;
      abort.abort();
    };
    const fail = (err: unknown) => {
      if (!open) return;
      close();
      call.fail(statusOf(err));
    };
    const onRequest = (req: Proto) => {
      if (!open) return;
      const refusal = refusalOf(req);
      if (refusal !== undefined) {
        fail(new StoreError('invalidArgument', refusal.details));
        return;
      }
      try {
        guard(ctx, call.metadata, WRITE);
        if (inFlight >= ctx.limits.maxKeepAlivesInFlight) throw new StoreError('tooManyRequests');
        const id = int64(req.ID, 'ID');
        inFlight++;
        ctx.store.leaseKeepAlive(id, { signal: abort.signal }).then(
          (res) => {
            inFlight--;
            if (open && !call.write({ header: headerToProto(res.header), ID: res.id, TTL: res.ttl }))
              call.pauseRequests();
          },
          (err: unknown) => {
            inFlight--;
            fail(err);
          },
        );
      } catch (err) {
        fail(err);
      }
    };
    call.listen({
      message: (req) => onRequest(req as Proto),
      end: () => {
        close();
        call.end();
      },
      cancel: close,
      drain: () => call.resumeRequests(),
    });
  });
}

/** etcdserverpb.Lease over the store. */
export function leaseService(ctx: EtcdContext): Record<string, MethodHandler> {
  return {
    LeaseGrant: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, WRITE);
      const res = await ctx.store.leaseGrant(int64(req.TTL, 'TTL'), int64(req.ID, 'ID'), { signal });
      return { header: headerToProto(res.header), ID: res.id, TTL: res.ttl, error: '' };
    }),
    LeaseRevoke: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, WRITE);
      const res = await ctx.store.leaseRevoke(int64(req.ID, 'ID'), { signal });
      return { header: headerToProto(res.header) };
    }),
    LeaseKeepAlive: keepAlive(ctx),
    LeaseTimeToLive: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, READ);
      const res = await ctx.store.leaseTimeToLive(int64(req.ID, 'ID'), req.keys === true, { signal });
      return {
        header: headerToProto(res.header),
        ID: res.id,
        TTL: res.ttl,
        grantedTTL: res.grantedTtl,
        keys: res.keys.map((k) => Buffer.from(k)),
      };
    }),
    LeaseLeases: unary(async (_req, call, signal) => {
      guard(ctx, call.metadata, READ);
      const res = await ctx.store.leaseLeases({ signal });
      return { header: headerToProto(res.header), leases: res.leases.map((id) => ({ ID: id })) };
    }),
  };
}
