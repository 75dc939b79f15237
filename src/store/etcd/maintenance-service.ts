import { createHash } from 'node:crypto';
import type { StoreClient } from '../api.js';
import { StoreError } from '../errors.js';
import { type EtcdContext, guard } from './context.js';
import { headerToProto, type Proto } from './convert.js';
import type { MethodHandler, ServerCall } from './grpc-call.js';
import { refusalOf, statusOf, streaming, unary, unimplementedError } from './grpc-service.js';
import { int64, uint64 } from './int64.js';

/**
 * etcdserverpb.Maintenance over the store: Status, Alarm, Hash, HashKV, MoveLeader, Defragment
 * and Snapshot, as etcd 3.4 answers them, so `etcdctl endpoint status|hashkv`, `alarm list`,
 * `move-leader`, `defrag` and `snapshot save` work. Downgrade (etcd 3.5) is UNIMPLEMENTED.
 *
 * - Alarm: Cairn has no space quota and no corruption check that raise alarms, so the list is
 *   always empty; deactivating succeeds (nothing to clear); activating is refused.
 * - Hash: etcd hashes its whole bolt file; Cairn answers the HashKV hash at the current
 *   revision (the only state members are meant to agree on).
 * - Snapshot: the member's state-machine image, zero-padded to a multiple of 512 bytes, in chunks
 *   of {@link SNAPSHOT_CHUNK_BYTES}, each with the bytes still to come, then one message holding
 *   the SHA-256 of what was sent, as etcd; the image is Cairn's format (see
 *   StoreServer.snapshot), not a bolt file.
 * A store without one of the optional calls answers UNIMPLEMENTED naming it.
 */

const ADMIN = [{ op: 'store:admin', keyless: true }] as const;
const READ = [{ op: 'store:read', keyless: true }] as const;

/** Bytes of one Snapshot message, etcd's snapshotSendBufferSize. */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

/** The optional method `name` of the store, or an UNIMPLEMENTED error. */
function need<K extends keyof StoreClient>(store: StoreClient, name: K): NonNullable<StoreClient[K]> {
  const fn = store[name];
  if (typeof fn !== 'function') throw unimplementedError(String(name), 'this store does not offer it');
  return (fn as (...args: never[]) => unknown).bind(store) as NonNullable<StoreClient[K]>;
}

function isAction(value: unknown, name: 'GET' | 'ACTIVATE' | 'DEACTIVATE'): boolean {
  const proto = { GET: ['Get', 0], ACTIVATE: ['Activate', 1], DEACTIVATE: ['Deactivate', 2] }[name];
  return value === undefined && name === 'GET' ? true : value === name || proto.includes(value as never);
}

/**
 * Writes `msg`; when the call's buffer is full, resolves once it drained (or the call ended:
 * the caller checks `call.ended`). `drained` is the call's drain notifier (see snapshotHandler).
 */
function send(call: ServerCall, drained: { wake: (() => void) | undefined }, msg: Proto): Promise<void> {
  if (call.write(msg) || call.ended) return Promise.resolve();
  return new Promise((resolve) => {
    drained.wake = resolve;
  });
}

/** etcdctl's snapshot check wants the size a multiple of this (bolt's files are page-aligned). */
export const SNAPSHOT_ALIGN_BYTES = 512;

/** `image` followed by zero bytes up to a multiple of {@link SNAPSHOT_ALIGN_BYTES}. */
export function alignedImage(image: Uint8Array): Uint8Array {
  const pad = (SNAPSHOT_ALIGN_BYTES - (image.length % SNAPSHOT_ALIGN_BYTES)) % SNAPSHOT_ALIGN_BYTES;
  if (pad === 0) return image;
  const out = new Uint8Array(image.length + pad);
  out.set(image, 0);
  return out;
}

/**
 * Streams `image` as etcd's Snapshot does: chunks with remaining_bytes, then the SHA-256 of
 * everything sent. The image is first padded with zero bytes to a multiple of 512: etcdctl
 * (`snapshot save`) refuses a download whose size is not one plus the 32-byte digest. The
 * image's own encoding (one MessagePack value) marks where it ends.
 */
async function streamImage(
  call: ServerCall,
  drained: { wake: (() => void) | undefined },
  unpadded: Uint8Array,
): Promise<void> {
  const image = alignedImage(unpadded);
  const sha = createHash('sha256');
  let sent = 0;
  while (sent < image.length && !call.ended) {
    const chunk = image.subarray(sent, Math.min(image.length, sent + SNAPSHOT_CHUNK_BYTES));
    sent += chunk.length;
    sha.update(chunk);
    await send(call, drained, { remaining_bytes: image.length - sent, blob: Buffer.from(chunk) });
  }
  if (call.ended) return;
  await send(call, drained, { remaining_bytes: 0, blob: sha.digest() });
  call.end();
}

/** etcdserverpb.Maintenance/Snapshot. */
function snapshotHandler(ctx: EtcdContext): MethodHandler {
  return streaming((call) => {
    const refusal = refusalOf(call.request);
    if (refusal !== undefined) {
      call.fail(refusal);
      return;
    }
    const drained: { wake: (() => void) | undefined } = { wake: undefined };
    const wake = () => {
      const w = drained.wake;
      drained.wake = undefined;
      w?.();
    };
    call.listen({ drain: wake, cancel: wake });
    (async () => {
      guard(ctx, call.metadata, ADMIN);
      const snap = await need(ctx.store, 'snapshot')({ signal: call.signal });
      await streamImage(call, drained, snap.image);
    })().catch((err: unknown) => call.fail(statusOf(err)));
  });
}

/** etcdserverpb.Maintenance over the store. */
export function maintenanceService(ctx: EtcdContext): Record<string, MethodHandler> {
  return {
    Status: unary(async (_req, call, signal) => {
      guard(ctx, call.metadata, READ);
      const s = await ctx.store.status({ signal });
      return {
        header: headerToProto(s.header),
        version: s.version,
        dbSize: s.dbSize,
        leader: s.leader,
        raftIndex: s.raftIndex,
        raftTerm: s.raftTerm,
        raftAppliedIndex: s.raftAppliedIndex,
        errors: [...s.errors],
        dbSizeInUse: s.dbSizeInUse ?? s.dbSize,
        isLearner: s.isLearner,
      };
    }),
    Alarm: unary(async (req, call, signal) => {
      const get = isAction(req.action, 'GET');
      guard(ctx, call.metadata, get ? READ : ADMIN);
      if (!get && !isAction(req.action, 'DEACTIVATE')) {
        throw new StoreError(
          'invalidArgument',
          'Cairn raises no alarms (it has no space quota and no corruption alarm), so none can be activated',
        );
      }
      const s = await ctx.store.status({ signal });
      return { header: headerToProto(s.header), alarms: [] };
    }),
    Hash: unary(async (_req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const r = await need(ctx.store, 'hashKV')(0, { signal });
      return { header: headerToProto(r.header), hash: r.hash };
    }),
    HashKV: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const revision = int64(req.revision, 'revision');
      if (revision < 0) throw new StoreError('invalidArgument', `revision ${revision} is negative`);
      const r = await need(ctx.store, 'hashKV')(revision, { signal });
      return { header: headerToProto(r.header), hash: r.hash, compact_revision: r.compactRevision };
    }),
    MoveLeader: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const r = await need(ctx.store, 'moveLeader')(uint64(req.targetID, 'targetID'), { signal });
      return { header: headerToProto(r.header) };
    }),
    Defragment: unary(async (_req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const r = await need(ctx.store, 'defragment')({ signal });
      return { header: headerToProto(r.header) };
    }),
    Snapshot: snapshotHandler(ctx),
    Downgrade: unary(async () => {
      throw unimplementedError('downgrade');
    }),
  };
}
