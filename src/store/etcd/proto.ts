import { createRequire } from 'node:module';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';

/**
 * etcd's v3 protos, as shipped by the `etcd3` package, loaded once with the options that both
 * the server and the client side of Cairn use: field names as in the .proto (`range_end`), int64
 * as decimal strings (never a lossy number), enums as their names, bytes as Buffers, absent
 * fields filled with their defaults, and the name of the set oneof member exposed.
 *
 * The path is resolved through Node's module resolution so that it works from `src/` under tsx
 * and from `dist/` alike.
 */
const require = createRequire(import.meta.url);

/** Absolute path of etcd's `rpc.proto` inside the installed `etcd3` package. */
export const RPC_PROTO_PATH: string = require.resolve('etcd3/proto/rpc.proto');

let loaded: PackageDefinition | undefined;

/** The package definition of etcd's API (loaded on first use, then shared). */
export function etcdPackageDefinition(): PackageDefinition {
  loaded ??= loadSync(RPC_PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  return loaded;
}

/** A method of an etcd service, e.g. `method('KV', 'Range')`. */
export function etcdMethod(service: string, name: string): MethodDefinition<object, object> {
  const svc = etcdPackageDefinition()[`etcdserverpb.${service}`] as
    | Record<string, MethodDefinition<object, object>>
    | undefined;
  const m = svc?.[name];
  if (m === undefined) throw new Error(`etcd proto has no method ${service}.${name}`);
  return m;
}
