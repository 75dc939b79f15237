/**
 * `cairn/rpc`: request/response messaging over transport streams.
 *
 * An {@link RpcChannel} carries calls in both directions over one stream, with correlation ids,
 * deadlines propagated to the server, cancellation, a bound on calls in flight and on concurrent
 * handlers, batching of small messages and typed errors. {@link RpcServer} registers handlers
 * (each guarded by its method's request validator) and serves streams; {@link RpcClient} calls
 * peers by address, keeping one channel per peer. See `DESIGN.md` for the wire format and the
 * failure semantics.
 *
 * @packageDocumentation
 */
export { RpcChannel, type RpcChannelOptions } from './channel.js';
export { RpcClient, type RpcClientOptions } from './client.js';
export { fromWireError, toWireError, type WireError } from './errors.js';
export { DEFAULT_DEADLINE_MS, DEFAULT_LIMITS, type RpcLimits } from './limits.js';
export type {
  BatchMessage,
  CancelMessage,
  ErrorMessage,
  RequestMessage,
  ResponseMessage,
  RpcFrame,
  RpcMessage,
} from './messages.js';
export {
  type CallOptions,
  defineMethod,
  type Handler,
  type HandlerContext,
  type MethodTable,
  type RegisteredMethod,
  type RpcMethod,
} from './method.js';
export { RpcServer, type RpcServerOptions } from './server.js';
export type { RpcChannelStats } from './stats.js';
