import {
  assertNever,
  CairnError,
  type Clock,
  decode,
  describeError,
  type ErrorCode,
  encode,
  isCairnError,
  type Logger,
  silentLogger,
  systemClock,
  type TimerHandle,
  type Validator,
  withLimits,
} from '../core/index.js';
import type { Address, Stream } from '../transport/types.js';
import { callError, fromWireError } from './errors.js';
import { Inbound } from './inbound.js';
import { DEFAULT_DEADLINE_MS, DEFAULT_LIMITS, type RpcLimits } from './limits.js';
import { decodeFrame, encodeMessage, frameValidator, type RpcFrame, type RpcMessage } from './messages.js';
import type { CallOptions, MethodTable, RpcMethod } from './method.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { newStats, type RpcChannelStats } from './stats.js';

/** Options of an {@link RpcChannel}. */
export interface RpcChannelOptions {
  /** Clock for deadlines; default the system clock (the simulator passes its virtual clock). */
  clock?: Clock;
  /** Handlers for requests from the peer; default none (every request gets RPC_UNKNOWN_METHOD). */
  methods?: MethodTable;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  limits?: Partial<RpcLimits>;
  /** Deadline of a call that gives none, in ms; default {@link DEFAULT_DEADLINE_MS} (30 s). */
  defaultDeadlineMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
}

interface PendingCall {
  readonly id: number;
  readonly method: string;
  readonly response: Validator<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  entry: OutboxEntry | undefined;
  timer: TimerHandle | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

let sharedSilentLogger: Logger | undefined;

/** One silent logger for every channel that is given none (thousands exist in a simulation). */
function defaultLogger(): Logger {
  if (sharedSilentLogger === undefined) sharedSilentLogger = silentLogger();
  return sharedSilentLogger;
}

/**
 * Request/response in both directions over one {@link Stream}.
 *
 * Either side calls the other with {@link call}; requests from the peer are served from the
 * `methods` table. Small messages are batched into frames (see `outbox.ts`).
 *
 * Contract:
 * - Every call settles exactly once: with the validated response, or with a CairnError whose code
 *   is the handler's (re-thrown from the wire), RPC_DEADLINE_EXCEEDED, RPC_CANCELLED,
 *   RPC_OVERLOADED (over `maxInFlightPerChannel`, at once), RPC_UNKNOWN_METHOD, INVALID_ARGUMENT
 *   (the peer rejected the request payload, or a bad local argument), DECODE_FAILED (the response
 *   failed its validator), LIMIT_EXCEEDED (payload over `maxPayloadBytes`),
 *   RPC_CONNECTION_LOST (the stream closed while the call was in flight) or CLOSED (this side
 *   closed the channel).
 * - Messages reach the peer in the order they were issued; batching never reorders.
 * - A malformed frame from the peer is counted in `stats.malformedFrames` and dropped; after
 *   `maxMalformedFrames` of them the stream is destroyed. Nothing the peer sends can throw out of
 *   the channel.
 * - Once the stream closes, the channel is closed for good: make a new one on a new stream.
 *
 * @example
 * ```ts
 * const channel = new RpcChannel(stream, { clock, methods: server });
 * const reply = await channel.call(Echo, { text: 'hi' }, { deadlineMs: 1000 });
 * ```
 */
export class RpcChannel {
  /** The peer's address. */
  readonly remoteAddress: Address;
  /** The limits in force. */
  readonly limits: RpcLimits;
  /** Counters for tests, logs and metrics. */
  readonly stats: RpcChannelStats = newStats();
  /** Resolves once the channel has closed, with the reason (undefined for a local close). */
  readonly closed: Promise<CairnError | undefined>;

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly defaultDeadlineMs: number;
  private readonly validateFrame: Validator<RpcFrame>;
  private readonly maxFrameBytes: number;
  private readonly outbox: Outbox;
  private readonly inbound: Inbound;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private closeReason: CairnError | undefined;
  private resolveClosed!: (reason: CairnError | undefined) => void;

  /**
   * Takes over `stream`'s frame and close handlers.
   *
   * @param stream - an open stream; the channel owns it from now on
   * @param options - see {@link RpcChannelOptions}
   * @throws CairnError `INVALID_CONFIG` for a bad limit or default deadline
   */
  constructor(
    /** The stream under the channel; the channel owns its handlers and its closing. */
    readonly stream: Stream,
    options: RpcChannelOptions = {},
  ) {
    this.remoteAddress = stream.remoteAddress;
    this.limits = withLimits(DEFAULT_LIMITS, options.limits);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? defaultLogger();
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!(this.defaultDeadlineMs > 0 && this.defaultDeadlineMs <= this.limits.maxDeadlineMs)) {
      throw new CairnError(
        'INVALID_CONFIG',
        `defaultDeadlineMs must be in (0, ${this.limits.maxDeadlineMs}]`,
      );
    }
    if (this.limits.defaultRequestDeadlineMs > this.limits.maxDeadlineMs) {
      throw new CairnError(
        'INVALID_CONFIG',
        `defaultRequestDeadlineMs must be at most maxDeadlineMs (${this.limits.maxDeadlineMs})`,
      );
    }
    this.validateFrame = frameValidator(this.limits);
    this.maxFrameBytes = this.limits.maxPayloadBytes + this.limits.maxBatchBytes;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.outbox = new Outbox((frame, entries) => this.sendFrame(frame, entries), this.limits);
    this.inbound = new Inbound({
      clock: this.clock,
      limits: this.limits,
      methods: options.methods,
      remoteAddress: this.remoteAddress,
      stats: this.stats,
      send: (message) => this.enqueue(message),
    });
    stream.onFrame((frame) => this.onFrame(frame));
    stream.onClose((error) => {
      const reason = `the stream to ${this.remoteAddress} closed${error === undefined ? '' : `: ${describeError(error)}`}`;
      this.shutdown(new CairnError('RPC_CONNECTION_LOST', reason, { cause: error }));
    });
    if (!stream.open)
      this.shutdown(new CairnError('RPC_CONNECTION_LOST', `the stream to ${this.remoteAddress} is closed`));
  }

  /** True until the channel closes. */
  get open(): boolean {
    return this.closeReason === undefined;
  }

  /** Our calls awaiting an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Handlers running for the peer's requests (including ones whose answer was already given up). */
  get activeHandlers(): number {
    return this.inbound.running;
  }

  /**
   * Calls `method` on the peer.
   *
   * @param method - the method descriptor (its `response` validator checks the answer)
   * @param request - the request; must encode within `maxPayloadBytes`
   * @param options - deadline (default `defaultDeadlineMs`) and cancellation signal
   * @returns the validated response; see the class contract for the errors
   */
  call<Req, Res>(method: RpcMethod<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    try {
      return this.start(method, request, options) as Promise<Res>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Closes the channel from this side: queued messages are flushed, pending calls reject with
   * CLOSED, running handlers are aborted, and the stream is closed cleanly. Idempotent.
   */
  close(): void {
    if (!this.open) return;
    this.outbox.flush();
    this.shutdown(new CairnError('CLOSED', `the channel to ${this.remoteAddress} was closed locally`));
    this.stream.close();
  }

  private start(
    method: RpcMethod<unknown, unknown>,
    request: unknown,
    options: CallOptions,
  ): Promise<unknown> {
    const name = method.name;
    if (this.closeReason !== undefined) {
      throw callError(
        this.closeReason.code,
        this.closeReason.message,
        name,
        this.remoteAddress,
        this.closeReason,
      );
    }
    const budget = this.checkCall(name, options);
    if (options.signal?.aborted) {
      throw callError(
        'RPC_CANCELLED',
        `the call of "${name}" was cancelled before it started`,
        name,
        this.remoteAddress,
      );
    }
    if (this.pending.size >= this.limits.maxInFlightPerChannel) {
      this.stats.rejectedInFlight++;
      throw callError(
        'RPC_OVERLOADED',
        `${this.pending.size} calls are in flight to ${this.remoteAddress}, the limit maxInFlightPerChannel`,
        name,
        this.remoteAddress,
      );
    }
    const payload = this.encodePayload(request, `the request of "${name}"`);
    if (budget === 0) {
      throw callError(
        'RPC_DEADLINE_EXCEEDED',
        `the call of "${name}" had no time left`,
        name,
        this.remoteAddress,
      );
    }
    const id = this.nextId++;
    const bytes = encodeMessage({ type: 'request', id, method: name, payload, deadlineMs: budget });
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        id,
        method: name,
        response: method.response,
        resolve,
        reject,
        entry: undefined,
        timer: undefined,
        signal: options.signal,
        onAbort: undefined,
      };
      // Registered before queueing: a queue that flushes at once may fail the call right away.
      this.pending.set(id, call);
      this.stats.callsStarted++;
      call.entry = this.outbox.push(bytes, id);
      if (this.pending.get(id) !== call) return;
      call.timer = this.clock.setTimer(budget, () => this.giveUp(call, 'RPC_DEADLINE_EXCEEDED'));
      if (call.signal !== undefined) {
        call.onAbort = () => this.giveUp(call, 'RPC_CANCELLED');
        call.signal.addEventListener('abort', call.onAbort, { once: true });
      }
    });
  }

  /** Validates the call's arguments; returns its budget in ms. */
  private checkCall(name: string, options: CallOptions): number {
    if (typeof name !== 'string' || name.length === 0 || name.length > this.limits.maxMethodNameLength) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `method name must have 1 to ${this.limits.maxMethodNameLength} characters (maxMethodNameLength)`,
      );
    }
    const budget = options.deadlineMs ?? this.defaultDeadlineMs;
    if (typeof budget !== 'number' || !(budget >= 0) || budget > this.limits.maxDeadlineMs) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `deadlineMs of "${name}" must be in [0, ${this.limits.maxDeadlineMs}] (maxDeadlineMs), got ${String(budget)}`,
      );
    }
    return budget;
  }

  private encodePayload(value: unknown, what: string): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = encode(value);
    } catch (err) {
      throw new CairnError('INVALID_ARGUMENT', `${what} cannot be encoded: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (bytes.length > this.limits.maxPayloadBytes) {
      throw new CairnError(
        'LIMIT_EXCEEDED',
        `${what} is ${bytes.length} bytes, over the limit maxPayloadBytes=${this.limits.maxPayloadBytes}`,
      );
    }
    return bytes;
  }

  /** Settles `call` locally (deadline or cancel) and tells the peer, or withdraws the unsent request. */
  private giveUp(call: PendingCall, code: 'RPC_DEADLINE_EXCEEDED' | 'RPC_CANCELLED'): void {
    if (this.pending.get(call.id) !== call) return;
    const entry = call.entry;
    const cause = code === 'RPC_CANCELLED' ? call.signal?.reason : undefined;
    this.finish(call);
    if (code === 'RPC_CANCELLED') this.stats.callsCancelled++;
    else this.stats.callsTimedOut++;
    const what = code === 'RPC_CANCELLED' ? 'was cancelled' : 'ran out of time';
    call.reject(
      callError(
        code,
        `the call of "${call.method}" to ${this.remoteAddress} ${what}`,
        call.method,
        this.remoteAddress,
        cause,
      ),
    );
    if (entry !== undefined && !entry.sent) entry.withdrawn = true;
    else this.enqueue({ type: 'cancel', id: call.id });
  }

  /**
   * Unregisters `call` and drops what it holds but its settle functions: the request's bytes (its
   * outbox entry), its timer and signal. A Map that deletes entries gets new tables, and an
   * abandoned table in the old generation still points at the calls it held; emptied, a finished
   * call keeps nothing young alive through it.
   */
  private finish(call: PendingCall): void {
    this.pending.delete(call.id);
    if (call.timer !== undefined) this.clock.cancel(call.timer);
    if (call.onAbort !== undefined) call.signal?.removeEventListener('abort', call.onAbort);
    call.entry = undefined;
    call.timer = undefined;
    call.signal = undefined;
    call.onAbort = undefined;
  }

  private enqueue(message: RpcMessage): void {
    this.outbox.push(encodeMessage(message));
  }

  private sendFrame(frame: Uint8Array, entries: readonly OutboxEntry[]): void {
    try {
      this.stream.send(frame);
      this.stats.framesSent++;
      this.stats.messagesSent += entries.length;
    } catch (err) {
      this.sendFailed(err, entries);
    }
  }

  /** A frame could not be handed to the stream: fail the calls it carried; close if the stream is gone. */
  private sendFailed(err: unknown, entries: readonly OutboxEntry[]): void {
    if (isCairnError(err, 'TRANSPORT_CLOSED') || !this.stream.open) {
      this.shutdown(
        new CairnError('RPC_CONNECTION_LOST', `the stream to ${this.remoteAddress} is closed`, {
          cause: err,
        }),
      );
      return;
    }
    this.stats.sendFailures++;
    const code: ErrorCode = isCairnError(err, 'TRANSPORT_BACKPRESSURE')
      ? 'RPC_OVERLOADED'
      : isCairnError(err, 'TRANSPORT_FRAME_TOO_LARGE')
        ? 'LIMIT_EXCEEDED'
        : 'INTERNAL';
    this.log.warn({ peer: this.remoteAddress, err: describeError(err) }, 'rpc frame could not be sent');
    for (const entry of entries) {
      const call = entry.requestId === undefined ? undefined : this.pending.get(entry.requestId);
      if (call === undefined) continue; // answers and cancels are lost; the peer's deadline covers them
      this.finish(call);
      const message = `the request of "${call.method}" could not be sent to ${this.remoteAddress}: ${describeError(err)}`;
      call.reject(callError(code, message, call.method, this.remoteAddress, err));
    }
  }

  private onFrame(bytes: Uint8Array): void {
    this.stats.framesReceived++;
    if (!this.open) return;
    let frame: RpcFrame;
    try {
      frame = decodeFrame(bytes, this.validateFrame, this.maxFrameBytes);
    } catch (err) {
      this.malformed(describeError(err));
      return;
    }
    try {
      if (frame.type === 'batch') for (const message of frame.messages) this.dispatch(message);
      else this.dispatch(frame);
    } catch (err) {
      // Only a bug gets here (dispatch handles every operating error); report it, never throw to the stream.
      this.log.error({ peer: this.remoteAddress, err: describeError(err) }, 'rpc dispatch failed');
    }
  }

  private dispatch(message: RpcMessage): void {
    if (!this.open) return;
    this.stats.messagesReceived++;
    switch (message.type) {
      case 'request':
        if (!this.inbound.request(message)) this.malformed(`duplicate request id ${message.id}`);
        return;
      case 'cancel':
        this.inbound.cancel(message.id);
        return;
      case 'response':
      case 'error':
        this.answer(message);
        return;
      default:
        assertNever(message, 'rpc message');
    }
  }

  private answer(message: Extract<RpcMessage, { type: 'response' | 'error' }>): void {
    const call = this.pending.get(message.id);
    if (call === undefined) {
      this.stats.lateAnswers++; // we gave up on it (deadline, cancel) or the peer is confused
      return;
    }
    this.finish(call);
    if (message.type === 'error') {
      this.stats.callsFailed++;
      call.reject(fromWireError(message, call.method, this.remoteAddress));
      return;
    }
    let value: unknown;
    try {
      value = decode(message.payload, call.response, this.limits.maxPayloadBytes);
    } catch (err) {
      this.stats.callsFailed++;
      const text = `the response of "${call.method}" from ${this.remoteAddress} is invalid: ${describeError(err)}`;
      call.reject(callError('DECODE_FAILED', text, call.method, this.remoteAddress, err));
      return;
    }
    this.stats.callsSucceeded++;
    call.resolve(value);
  }

  private malformed(why: string): void {
    this.stats.malformedFrames++;
    this.log.debug({ peer: this.remoteAddress, why }, 'rpc dropped a malformed frame');
    if (this.stats.malformedFrames >= this.limits.maxMalformedFrames && this.open) {
      const error = new CairnError(
        'RPC_CONNECTION_LOST',
        `closed the stream to ${this.remoteAddress} after ${this.stats.malformedFrames} malformed frames (maxMalformedFrames)`,
      );
      this.shutdown(error);
      this.stream.destroy(error);
    }
  }

  /** Closes the channel once: rejects pending calls with `reason`, aborts handlers, drops the queue. */
  private shutdown(reason: CairnError): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.outbox.close();
    const calls = [...this.pending.values()];
    for (const call of calls) {
      this.finish(call);
      const message = `"${call.method}" (id ${call.id}) to ${this.remoteAddress} did not complete: ${reason.message}`;
      call.reject(callError(reason.code, message, call.method, this.remoteAddress, reason.cause ?? reason));
    }
    this.inbound.abortAll(reason);
    this.resolveClosed(reason.code === 'CLOSED' ? undefined : reason);
  }
}
