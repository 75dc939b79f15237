import {
  CairnError,
  CallSignal,
  type Clock,
  decode,
  describeError,
  type ErrorCode,
  encode,
  type TimerHandle,
} from '../core/index.js';
import type { Address } from '../transport/types.js';
import { clipMessage, toWireError } from './errors.js';
import type { RpcLimits } from './limits.js';
import type { RequestMessage, RpcMessage } from './messages.js';
import type { HandlerContext, MethodTable, RegisteredMethod } from './method.js';
import type { RpcChannelStats } from './stats.js';

/**
 * The serving half of a channel: runs handlers for the peer's requests.
 *
 * Per request, in order: a duplicate id is a protocol error; an unknown method is answered
 * RPC_UNKNOWN_METHOD; with `maxConcurrentHandlers` handlers running the answer is RPC_OVERLOADED;
 * a payload that fails the method's validator is answered INVALID_ARGUMENT; a request that arrives
 * with no budget left is answered RPC_DEADLINE_EXCEEDED. Otherwise the handler runs with a signal
 * that aborts on the peer's cancel, on the deadline (which also answers RPC_DEADLINE_EXCEEDED at
 * once; a request that carries none gets `defaultRequestDeadlineMs`) or when the channel closes. A request is answered at most once; whatever a handler returns
 * after its request was cancelled, timed out or orphaned is discarded. A handler occupies its
 * concurrency slot until its promise settles, even after it was given up on: the slot measures
 * work actually running on this node.
 */

/** What {@link Inbound} needs from its channel. */
export interface InboundOptions {
  readonly clock: Clock;
  readonly limits: RpcLimits;
  readonly methods: MethodTable | undefined;
  readonly remoteAddress: Address;
  readonly stats: RpcChannelStats;
  /** Queues a message to the peer. */
  readonly send: (message: RpcMessage) => void;
}

interface ActiveRequest {
  readonly id: number;
  readonly method: string;
  /** A CallSignal, not an AbortController: Node 20 builds an AbortSignal slowly (see core). */
  readonly controller: CallSignal;
  timer: TimerHandle | undefined;
}

/** See the module comment. */
export class Inbound {
  private readonly active = new Map<number, ActiveRequest>();
  private runningCount = 0;

  /** @param options - the channel's wiring */
  constructor(private readonly options: InboundOptions) {}

  /** Handlers running now (including given-up ones still finishing). */
  get running(): number {
    return this.runningCount;
  }

  /**
   * Handles one request from the peer.
   *
   * @returns false when the id is already in use (a protocol error the channel counts)
   */
  request(message: RequestMessage): boolean {
    const { id, method } = message;
    if (this.active.has(id)) return false;
    const registered = this.options.methods?.lookup(method);
    if (registered === undefined) {
      this.reject(
        id,
        'RPC_UNKNOWN_METHOD',
        `${this.options.remoteAddress} asked for unknown method "${method}"`,
      );
      return true;
    }
    if (this.runningCount >= this.options.limits.maxConcurrentHandlers) {
      this.options.stats.rejectedConcurrency++;
      this.reply(id, {
        code: 'RPC_OVERLOADED',
        message: `${this.runningCount} handlers are running, the limit maxConcurrentHandlers; "${method}" was refused`,
      });
      return true;
    }
    let request: unknown;
    try {
      request = decode(message.payload, registered.method.request, this.options.limits.maxPayloadBytes);
    } catch (err) {
      this.reject(id, 'INVALID_ARGUMENT', `the request of "${method}" is invalid: ${describeError(err)}`);
      return true;
    }
    if (message.deadlineMs !== undefined && message.deadlineMs <= 0) {
      this.reject(id, 'RPC_DEADLINE_EXCEEDED', `the request of "${method}" arrived with no time left`);
      return true;
    }
    this.run(message, registered, request);
    return true;
  }

  /** The peer gave up on request `id`: abort its handler; no answer is sent. */
  cancel(id: number): void {
    const entry = this.active.get(id);
    if (entry === undefined) return; // already answered: the cancel crossed our answer
    this.release(entry);
    entry.controller.abort(new CairnError('RPC_CANCELLED', `the caller cancelled "${entry.method}"`));
  }

  /** The channel closed: abort every handler with `reason`; none of them will be answered. */
  abortAll(reason: CairnError): void {
    const entries = [...this.active.values()];
    for (const entry of entries) {
      this.release(entry);
      entry.controller.abort(reason);
    }
  }

  private run(message: RequestMessage, registered: RegisteredMethod, request: unknown): void {
    const { clock } = this.options;
    const entry: ActiveRequest = {
      id: message.id,
      method: message.method,
      controller: new CallSignal(),
      timer: undefined,
    };
    // A request without a deadline gets this node's default: no handler runs unbounded for a peer.
    const budget = message.deadlineMs ?? this.options.limits.defaultRequestDeadlineMs;
    const deadline = clock.now() + budget;
    entry.timer = clock.setTimer(budget, () => this.expire(entry));
    this.active.set(entry.id, entry);
    this.runningCount++;
    this.options.stats.handlersStarted++;
    const ctx: HandlerContext = {
      signal: entry.controller.signal,
      deadline,
      remoteAddress: this.options.remoteAddress,
      method: message.method,
    };
    let result: unknown;
    try {
      result = registered.handler(request, ctx);
    } catch (err) {
      this.settle(entry, false, err);
      return;
    }
    if (!isThenable(result)) {
      // A synchronous handler is done now: answering at once keeps its slot from lingering.
      this.settle(entry, true, result);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.settle(entry, true, value),
      (err: unknown) => this.settle(entry, false, err),
    );
  }

  private expire(entry: ActiveRequest): void {
    if (this.active.get(entry.id) !== entry) return;
    entry.timer = undefined;
    this.release(entry);
    const error = new CairnError('RPC_DEADLINE_EXCEEDED', `"${entry.method}" ran out of the caller's time`);
    entry.controller.abort(error);
    this.reply(entry.id, { code: error.code, message: error.message });
  }

  private settle(entry: ActiveRequest, ok: boolean, value: unknown): void {
    this.runningCount--;
    if (this.active.get(entry.id) !== entry) return; // given up on: discard
    this.release(entry);
    if (!ok) {
      this.reply(entry.id, toWireError(value, entry.method, this.options.limits.maxErrorMessageLength));
      return;
    }
    let payload: Uint8Array;
    try {
      payload = encode(value);
    } catch {
      this.reply(entry.id, {
        code: 'INTERNAL',
        message: `the response of "${entry.method}" cannot be encoded`,
      });
      return;
    }
    const max = this.options.limits.maxPayloadBytes;
    if (payload.length > max) {
      const text = `the response of "${entry.method}" is ${payload.length} bytes, over the limit maxPayloadBytes=${max}`;
      this.reply(entry.id, { code: 'LIMIT_EXCEEDED', message: text });
      return;
    }
    this.options.send({ type: 'response', id: entry.id, payload });
  }

  private release(entry: ActiveRequest): void {
    this.active.delete(entry.id);
    if (entry.timer !== undefined) this.options.clock.cancel(entry.timer);
    entry.timer = undefined;
  }

  private reject(id: number, code: ErrorCode, message: string): void {
    this.options.stats.rejectedRequests++;
    this.reply(id, { code, message });
  }

  private reply(id: number, error: { code: ErrorCode | string; message: string }): void {
    const message = clipMessage(error.message, this.options.limits.maxErrorMessageLength);
    this.options.send({ type: 'error', id, code: error.code, message });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
