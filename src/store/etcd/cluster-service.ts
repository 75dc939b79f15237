import { StoreError } from '../errors.js';
import { type EtcdContext, guard } from './context.js';
import { headerToProto, memberToProto } from './convert.js';
import type { MethodHandler } from './grpc-call.js';
import { refusalOf, statusOf, unary, unimplementedError } from './grpc-service.js';
import { uint64 } from './int64.js';

const ADMIN = [{ op: 'store:admin', keyless: true }] as const;
const READ = [{ op: 'store:read', keyless: true }] as const;

function strings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new StoreError('memberBadURLs');
  return value;
}

/** A handler answering UNIMPLEMENTED with a sentence naming the method (and why, if given). */
export function unimplemented(what: string, why?: string): MethodHandler {
  return {
    kind: 'unary',
    handle: (request, call) => call.fail(refusalOf(request) ?? statusOf(unimplementedError(what, why))),
  };
}

/** etcdserverpb.Cluster over the store. */
export function clusterService(ctx: EtcdContext): Record<string, MethodHandler> {
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
    MemberUpdate: unary(async (req, call, signal) => {
      guard(ctx, call.metadata, ADMIN);
      if (ctx.store.memberUpdate === undefined) throw unimplementedError('member update');
      const res = await ctx.store.memberUpdate(uint64(req.ID, 'ID'), strings(req.peerURLs), { signal });
      return { header: headerToProto(res.header), members: res.members.map(memberToProto) };
    }),
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

/** Why etcd's user and role management is not there, for etcdctl users. */
export const AUTH_MANAGEMENT_REASON =
  'Cairn authorizes calls with capability tokens instead of users and roles: mint one with ' +
  '`cairn token mint` (it can be narrowed to a key prefix and to reads) and give it as the ' +
  'password of any user (etcdctl --user=any:<token>)';

/**
 * etcdserverpb.Auth: Authenticate with a capability token as the password, AuthStatus; user and
 * role management (UserAdd, RoleAdd, AuthEnable, ...) answer UNIMPLEMENTED with
 * {@link AUTH_MANAGEMENT_REASON}.
 */
export function authService(ctx: EtcdContext, methods: readonly string[]): Record<string, MethodHandler> {
  const out: Record<string, MethodHandler> = {};
  for (const m of methods) out[m] = unimplemented(`auth ${m}`, AUTH_MANAGEMENT_REASON);
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
