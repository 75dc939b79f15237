import type { MethodDefinition } from '@grpc/proto-loader';
import { describeError, isCairnError } from '../../core/errors.js';
import { GRPC, isStoreError, StoreError } from '../errors.js';
import type { Proto } from './convert.js';
import type { MethodCodec, MethodHandler, ServerCall, StreamHandler } from './grpc-call.js';
import type { GrpcStatus } from './grpc-wire.js';
import { DecodeFailure } from './kv-codec.js';
import { etcdPackageDefinition } from './proto.js';
import { type MessageSchemas, messageSchemas, scanMessage } from './wire-scan.js';

/**
 * gRPC plumbing shared by the etcd services: method codecs whose request deserializers refuse
 * oversized, malformed and unknown-field input without throwing (the refusal travels to the
 * handler as the request), the unary and stream handler wrappers for grpc-server.ts, and the
 * mapping of store errors onto gRPC statuses.
 */

/** Why a request was refused before it reached a handler. */
export interface Refusal {
  readonly code: number;
  readonly details: string;
}

const REFUSED = Symbol('etcd.refused');

/** A request the deserializer refused: handlers answer `refusalOf(req)` at once. */
interface RefusedRequest {
  readonly [REFUSED]: Refusal;
}

/** The refusal carried by a request, if its bytes were refused. */
export function refusalOf(req: unknown): Refusal | undefined {
  return typeof req === 'object' && req !== null && REFUSED in req
    ? (req as RefusedRequest)[REFUSED]
    : undefined;
}

function refused(code: number, details: string): RefusedRequest {
  return { [REFUSED]: { code, details } };
}

/** Limits the deserializer applies. */
export interface DecodeLimits {
  readonly maxRequestBytes: number;
  readonly maxMessageDepth: number;
}

let schemas: MessageSchemas | undefined;

function requestDeserializer(
  original: (bytes: Buffer) => object,
  type: string,
  limits: DecodeLimits,
): (bytes: Buffer) => object {
  schemas ??= messageSchemas(etcdPackageDefinition());
  const known = schemas;
  return (bytes: Buffer) => {
    if (bytes.length > limits.maxRequestBytes) {
      const e = new StoreError('requestTooLarge');
      return refused(e.grpcCode, e.message);
    }
    const problem = scanMessage(known, type, bytes, limits.maxMessageDepth);
    if (problem?.kind === 'unknownField') {
      const e = new StoreError('invalidArgument', problem.reason);
      return refused(e.grpcCode, e.message);
    }
    if (problem !== undefined)
      return refused(GRPC.INTERNAL, `grpc: error unmarshalling request: ${problem.reason}`);
    try {
      return original(bytes);
    } catch (err) {
      return refused(GRPC.INTERNAL, `grpc: error unmarshalling request: ${describeError(err)}`);
    }
  };
}

/**
 * A hand-written codec for one method (kv-codec.ts): `decode` replaces scan, proto-loader's decode
 * and the conversion to the store's request type; `encode` writes the store's response type.
 */
export interface FastCodec {
  decode(bytes: Buffer): object | DecodeFailure;
  encode(response: never): Buffer;
}

/** {@link requestDeserializer} for a method with a {@link FastCodec}: the same refusals. */
function fastDeserializer(codec: FastCodec, limits: DecodeLimits): (bytes: Buffer) => object {
  return (bytes: Buffer) => {
    if (bytes.length > limits.maxRequestBytes) {
      const e = new StoreError('requestTooLarge');
      return refused(e.grpcCode, e.message);
    }
    const r = codec.decode(bytes);
    if (!(r instanceof DecodeFailure)) return r;
    if (r.kind === 'malformed')
      return refused(GRPC.INTERNAL, `grpc: error unmarshalling request: ${r.reason}`);
    const e = new StoreError('invalidArgument', r.reason);
    return refused(e.grpcCode, e.message);
  };
}

/**
 * An etcd service's method codecs (from proto-loader's definition) with guarded request
 * deserializers. Methods named in `fast` take their codec's request and response types instead
 * of proto-loader's objects; methods named in `encoders` keep proto-loader's requests but write
 * what their encoder takes (Watch: watch-stream.ts's WatchOut).
 */
export function guardedService(
  service: string,
  limits: DecodeLimits,
  fast: Readonly<Record<string, FastCodec>> = {},
  encoders: Readonly<Record<string, (response: never) => Buffer>> = {},
): Record<string, MethodCodec> {
  const def = etcdPackageDefinition()[`etcdserverpb.${service}`] as unknown as Record<
    string,
    MethodDefinition<object, object>
  >;
  const out: Record<string, MethodCodec> = {};
  for (const [name, m] of Object.entries(def)) {
    const codec = fast[name];
    const shape = { requestStream: m.requestStream, responseStream: m.responseStream };
    if (codec !== undefined) {
      out[name] = {
        ...shape,
        deserialize: fastDeserializer(codec, limits),
        serialize: codec.encode as (response: object) => Buffer,
      };
      continue;
    }
    const typeName = (m.requestType as unknown as { type: { name: string } }).type.name;
    out[name] = {
      ...shape,
      deserialize: requestDeserializer(m.requestDeserialize, `etcdserverpb.${typeName}`, limits),
      serialize: (encoders[name] as ((response: object) => Buffer) | undefined) ?? m.responseSerialize,
    };
  }
  return out;
}

/** An error a handler throws to answer with a given gRPC status (e.g. UNIMPLEMENTED). */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    details: string,
  ) {
    super(details);
    this.name = 'GrpcStatusError';
  }
}

/** The UNIMPLEMENTED answer for `what`, in etcd's wording style. */
export function unimplementedError(what: string, why?: string): GrpcStatusError {
  const tail = why === undefined ? '' : `: ${why}`;
  return new GrpcStatusError(GRPC.UNIMPLEMENTED, `etcdserver: ${what} is not supported by Cairn${tail}`);
}

/** The gRPC status for an error a handler threw: etcd's code and message for store errors. */
export function statusOf(err: unknown): GrpcStatus {
  if (isStoreError(err)) return { code: err.grpcCode, details: err.message };
  if (err instanceof GrpcStatusError) return { code: err.code, details: err.message };
  if (isCairnError(err, 'CANCELLED')) return { code: GRPC.CANCELLED, details: 'context canceled' };
  if (isCairnError(err, 'TIMEOUT'))
    return { code: GRPC.DEADLINE_EXCEEDED, details: 'context deadline exceeded' };
  return { code: GRPC.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

/** A call's request headers: gRPC metadata. */
export type CallMetadata = Readonly<Record<string, string | string[] | undefined>>;

/** The etcd token a call carries in its metadata, if any. */
export function callToken(metadata: CallMetadata): string | undefined {
  const v = metadata.token;
  return typeof v === 'string' ? v : undefined;
}

/**
 * A unary handler: refused requests are answered with their refusal, thrown errors with
 * {@link statusOf}. `fn` gets a validated request (proto-loader's object, or the store's request
 * type for a method with a {@link FastCodec}), the call, and an AbortSignal aborted when the
 * client cancels or the deadline passes.
 */
export function unary<Req = Proto, Res = Proto>(
  fn: (req: Req, call: ServerCall, signal: AbortSignal) => Promise<Res>,
): MethodHandler {
  const handle = (request: object, call: ServerCall): void => {
    const refusal = refusalOf(request);
    if (refusal !== undefined) {
      call.fail(refusal);
      return;
    }
    let pending: Promise<Res>;
    try {
      pending = fn(request as Req, call, call.signal);
    } catch (err) {
      call.fail(statusOf(err));
      return;
    }
    pending.then(
      (res) => call.reply(res as object),
      (err: unknown) => call.fail(statusOf(err)),
    );
  };
  return { kind: 'unary', handle };
}

/** A streaming handler (bidirectional, or server-streaming with `call.request`). */
export function streaming(handle: StreamHandler): MethodHandler {
  return { kind: 'stream', handle };
}
