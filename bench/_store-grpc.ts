/**
 * etcd v3 gRPC clients for the store bench, straight on `@grpc/grpc-js` with the protos the
 * `etcd3` package ships (no client library in between), and the hand encoding of the requests
 * the load sends (the load's calls themselves go over `_store-h2.ts`, cheaper than grpc-js).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
/** Folder holding etcd's rpc.proto, kv.proto and auth.proto. */
export const ETCD_PROTO_DIR = join(dirname(require.resolve('etcd3/package.json')), 'proto');

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
type Unary = (req: object, options: grpc.CallOptions, cb: Callback<unknown>) => grpc.ClientUnaryCall;

/** The KV service's client as this bench uses it. */
export interface KvClient extends grpc.Client {
  Put: Unary;
  Range: Unary;
}

/** The Watch service's client. */
export interface WatchClient extends grpc.Client {
  Watch(): grpc.ClientDuplexStream<object, WatchResponse>;
}

/** The parts of etcd's WatchResponse the bench reads. */
export interface WatchResponse {
  created?: boolean;
  canceled?: boolean;
  cancel_reason?: string;
  events?: { type?: string; kv?: { key: Buffer; value: Buffer } }[];
}

interface Services {
  KV: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => KvClient;
  Watch: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => WatchClient;
}

let services: Services | undefined;

function loadDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(join(ETCD_PROTO_DIR, 'rpc.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [ETCD_PROTO_DIR],
  });
}

function load(): Services {
  if (services !== undefined) return services;
  const pkg = grpc.loadPackageDefinition(loadDefinition()) as unknown as { etcdserverpb: Services };
  services = pkg.etcdserverpb;
  return services;
}

/**
 * Channel options: a private subchannel pool, so that each client made here is one TCP connection
 * of its own (grpc-js otherwise shares one connection among clients of the same address).
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

function address(endpoint: string): string {
  return endpoint.replace(/^https?:\/\//, '');
}

/** One connection to the KV service at `endpoint` (`http://host:port`). */
export function kvClient(endpoint: string): KvClient {
  return new (load().KV)(address(endpoint), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Field 7 (serializable), varint wire type, value 1. */
const SERIALIZABLE_TRUE = Buffer.from([7 << 3, 1]);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited protobuf field. */
function bytesField(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
}

/** etcd's PutRequest{key = 1, value = 2} in protobuf. */
export function encodePutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  return Buffer.concat([bytesField(1, key), bytesField(2, value)]);
}

/** etcd's RangeRequest{key = 1, serializable = 7} in protobuf. */
export function encodeRangeRequest(key: Uint8Array, serializable: boolean): Buffer {
  return serializable ? Buffer.concat([bytesField(1, key), SERIALIZABLE_TRUE]) : bytesField(1, key);
}

/** The loaded package definition, for tests that check the hand encoding against protobufjs. */
export function etcdPackageDefinition(): protoLoader.PackageDefinition {
  return loadDefinition();
}

/** One connection to the Watch service at `endpoint`. */
export function watchClient(endpoint: string): WatchClient {
  return new (load().Watch)(address(endpoint), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Calls a unary method with a deadline. */
export function call<T>(method: Unary, client: grpc.Client, req: object, deadlineMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err !== null) reject(err);
      else resolve(res as T);
    });
  });
}
