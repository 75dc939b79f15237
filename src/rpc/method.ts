import { CairnError, type Validator } from '../core/index.js';
import type { Address } from '../transport/types.js';

/**
 * Method descriptors: the one object both sides of a call share.
 *
 * A method has a name and two validators. The server checks every decoded request with
 * `request` before its handler sees it; the caller checks every decoded response with `response`
 * before the call resolves. Declaring methods once (say in a brick's `protocol.ts`) and importing
 * the same descriptor on both sides keeps the types and the checks in step.
 */

/** A method: its name and the validators of its request and response. */
export interface RpcMethod<Req, Res> {
  /** The method name, e.g. `kv.get`: 1 to `maxMethodNameLength` characters. */
  readonly name: string;
  /** Checks a decoded request; throws `DECODE_FAILED` naming the bad field. */
  readonly request: Validator<Req>;
  /** Checks a decoded response; throws `DECODE_FAILED` naming the bad field. */
  readonly response: Validator<Res>;
}

/**
 * Declares a method.
 *
 * @param name - the method name (non-empty; its length is checked against the channel's limits)
 * @param request - validator of the request payload
 * @param response - validator of the response payload
 * @example
 * ```ts
 * const Get = defineMethod('kv.get', v.object({ key: v.string({ maxLength: 256 }) }),
 *   v.object({ value: v.nullable(v.bytes({ maxLength: 1 << 20 })) }));
 * server.handle(Get, async ({ key }) => ({ value: store.get(key) ?? null }));
 * const { value } = await client.call(peer, Get, { key: 'a' });
 * ```
 */
export function defineMethod<Req, Res>(
  name: string,
  request: Validator<Req>,
  response: Validator<Res>,
): RpcMethod<Req, Res> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CairnError('INVALID_ARGUMENT', 'a method name must be a non-empty string');
  }
  return Object.freeze({ name, request, response });
}

/** What a handler gets besides its request. */
export interface HandlerContext {
  /**
   * Aborts when the caller cancels, when the propagated deadline passes (reason:
   * RPC_DEADLINE_EXCEEDED) or when the channel closes (reason: RPC_CONNECTION_LOST or CLOSED).
   * After it aborts, whatever the handler returns is discarded.
   */
  readonly signal: AbortSignal;
  /**
   * The deadline on this node's clock (`clock.now()` units): the caller's, or
   * `defaultRequestDeadlineMs` from arrival when the request carried none.
   */
  readonly deadline: number;
  /**
   * The peer's transport address. For a stream the peer dialed, this is the address its hello
   * claims, not a proven identity: never authorise by it (capability tokens or signed records do).
   */
  readonly remoteAddress: Address;
  /** The method being served. */
  readonly method: string;
}

/**
 * Serves one method. May return a value or a promise; a throw or rejection becomes an error
 * response (see `errors.ts` for the mapping).
 */
export type Handler<Req, Res> = (request: Req, ctx: HandlerContext) => Promise<Res> | Res;

/** A method with its handler, type-erased for the table a channel dispatches through. */
export interface RegisteredMethod {
  readonly method: RpcMethod<unknown, unknown>;
  readonly handler: Handler<unknown, unknown>;
}

/**
 * Where a channel looks up the handler of an incoming request. {@link RpcServer} is one; a channel
 * without a table answers every request with RPC_UNKNOWN_METHOD.
 */
export interface MethodTable {
  /** The registered method called `name`, or undefined. */
  lookup(name: string): RegisteredMethod | undefined;
}

/** Options of one call. */
export interface CallOptions {
  /**
   * The call's budget in milliseconds from now; the call rejects with RPC_DEADLINE_EXCEEDED when
   * it runs out, and the remaining budget travels with the request. Default: the channel's
   * `defaultDeadlineMs` (30 s). At most `maxDeadlineMs`.
   */
  deadlineMs?: number;
  /** Aborting it rejects the call with RPC_CANCELLED and tells the peer to stop. */
  signal?: AbortSignal;
}
