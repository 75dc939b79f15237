import type * as grpc from '@grpc/grpc-js';
import { GRPC, StoreError } from '../errors.js';
import { type EtcdContext, guard } from './context.js';
import { headerToProto, memberToProto, type Proto } from './convert.js';
import { grpcError, refusalOf, unary } from './grpc-service.js';
import { uint64 } from './int64.js';

const ADMIN = [{ op: 'store:admin', keyless: true }] as const;
const READ = [{ op: 'store:read', keyless: true }] as const;

function strings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new StoreError('memberBadURLs');
  return value;
}

/** A handler answering UNIMPLEMENTED with a sentence naming the method. */
export function unimplemented(what: string): grpc.handleUnaryCall<Proto, Proto> {
  return (call, callback) => {
    const refusal = refusalOf(call.request);
    callback(
      grpcError(
        refusal ?? { code: GRPC.UNIMPLEMENTED, details: `etcdserver: ${what} is not supported by Cairn` },
      ),
    );
  };
}

/** etcdserverpb.Cluster over the store (MemberUpdate: not supported). */
export function clusterService(ctx: EtcdContext): grpc.UntypedServiceImplementation {
  return {
    MemberAdd: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const res = await ctx.store.memberAdd(strings(req.peerURLs), req.isLearner === true, { signal });
      return {
        header: headerToProto(res.header),
        member: memberToProto(res.member),
        members: res.members.map(memberToProto),
      };
    }),
    MemberRemove: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const res = await ctx.store.memberRemove(uint64(req.ID, 'ID'), { signal });
      return { header: headerToProto(res.header), members: res.members.map(memberToProto) };
    }),
    MemberUpdate: unimplemented('member update'),
    MemberList: unary(async (_req, call, signal) => {
      guard(ctx, call.metadata, READ);
      const res = await ctx.store.memberList({ signal });
      return { header: headerToProto(res.header), members: res.members.map(memberToProto) };
    }),
    MemberPromote: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      const res = await ctx.store.memberPromote(uint64(req.ID, 'ID'), { signal });
      return { header: headerToProto(res.header), members: res.members.map(memberToProto) };
    }),
  };
}

/** etcdserverpb.Maintenance: Status, and an Alarm list that is always empty; the rest unsupported. */
export function maintenanceService(ctx: EtcdContext): grpc.UntypedServiceImplementation {
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
        dbSizeInUse: s.dbSize,
        isLearner: s.isLearner,
      };
    }),
    Alarm: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, req.action === 'GET' || req.action === 'Get' ? READ : ADMIN);
      if (req.action !== 'GET' && req.action !== 'Get')
        throw new StoreError('invalidArgument', 'alarms are read-only');
      const s = await ctx.store.status({ signal });
      return { header: headerToProto(s.header), alarms: [] };
    }),
    Defragment: unimplemented('defragment'),
    Hash: unimplemented('hash'),
    HashKV: unimplemented('hashkv'),
    Snapshot: (call: grpc.ServerWritableStream<Proto, Proto>) => {
      call.emit(
        'error',
        grpcError({ code: GRPC.UNIMPLEMENTED, details: 'etcdserver: snapshot is not supported by Cairn' }),
      );
    },
    MoveLeader: unimplemented('move leader'),
    Downgrade: unimplemented('downgrade'),
  };
}

/** etcdserverpb.Auth: Authenticate with a capability token as the password; the rest unsupported. */
export function authService(ctx: EtcdContext, methods: readonly string[]): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const m of methods) out[m] = unimplemented(`auth ${m}`);
  out.Authenticate = unary(async (req) => {
    if (ctx.auth === undefined) throw new StoreError('authNotEnabled');
    const password = typeof req.password === 'string' ? req.password : '';
    if (typeof req.name !== 'string' || req.name === '') throw new StoreError('userEmpty');
    const token = ctx.auth.authenticate(password);
    const s = await ctx.store.status();
    return { header: headerToProto(s.header), token };
  });
  out.AuthStatus = unary(async () => {
    const s = await ctx.store.status();
    return { header: headerToProto(s.header), enabled: ctx.auth !== undefined, authRevision: 1 };
  });
  return out;
}
