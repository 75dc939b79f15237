import type { DeadlineEntry } from '../../core/deadline-queue.js';
import { describeError } from '../../core/errors.js';
import { CallSignal } from '../../core/index.js';

import { GRPC } from '../errors.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { ConnectionLiveness } from './connection-liveness.js';
import type { CallMetadata } from './grpc-service.js';
import { encodeGrpcMessage, frameMessage, type GrpcStatus, MessageReader } from './grpc-wire.js';
import type { H2Stream, H2StreamListener } from './h2/connection.js';
import { encodeHeaderBlock } from './h2/hpack.js';

/**
 * One gRPC call on one HTTP/2 stream of the etcd server (grpc-server.ts routes the stream here):
 * reads the request messages, hands them to the method's handler, writes the responses and the
 * status. The handler sees a {@link ServerCall}: the request headers (`metadata`), an abort signal,
 * `write` with backpressure, `end` and `fail`.
 *
 * Contract: exactly one status ends a call, the first of the handler's `end`/`fail`/`reply`, a
 * refusal of the request bytes, or the deadline (DEADLINE_EXCEEDED, `context deadline exceeded`);
 * a call the client resets or whose connection closes first ends with no status. Any end the
 * handler did not ask for aborts `signal` and calls its listener's `cancel`. Nothing sent by the
 * client throws out of the call; writes after the end are ignored.
 *
 * Memory: every response byte the call writes is counted in its connection's
 * {@link ConnectionBudget} until it left the session (see there). A unary reply on a connection
 * already over its limit is answered RESOURCE_EXHAUSTED instead (calls admitted while it was
 * under cannot pile up past it: one reply crosses the limit, the others are refused); a
 * streaming `write` returns false while the connection is over, and `drain` follows once both
 * the stream's buffer and the connection are back under their limits.
 */

/** How one method's messages are decoded and encoded and whether each side streams. */
export interface MethodCodec {
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** Request bytes to the handler's request (guarded: refusals are returned, not thrown). */
  deserialize(bytes: Buffer): object;
  serialize(response: object): Buffer;
}

/** What a streaming handler hears from its call. */
export interface CallListener {
  /** A request message (bidirectional calls). */
  message?(request: object): void;
  /** The client half-closed its side. */
  end?(): void;
  /** The call ended without the handler ending it: client reset, deadline, server closing. */
  cancel?(): void;
  /** The response buffers (the stream's and the connection's) drained after a `write` returned false. */
  drain?(): void;
}

/** A unary method: answers with `call.reply` or `call.fail`. */
export type UnaryHandler = (request: object, call: ServerCall) => void;
/** A streaming method: `call.request` holds the request when only the response streams. */
export type StreamHandler = (call: ServerCall) => void;

/** A method's handler, tagged with its shape. */
export type MethodHandler =
  | { readonly kind: 'unary'; readonly handle: UnaryHandler }
  | { readonly kind: 'stream'; readonly handle: StreamHandler };

/** HTTP/2's INTERNAL_ERROR (RFC 9113 §7): a stream reset because writing to it failed. */
export const H2_INTERNAL_ERROR = 2;

/** The response headers of every call: before its messages, or with its status (trailers-only). */
const RESPONSE_FIELDS: ReadonlyArray<readonly [string, string]> = [
  [':status', '200'],
  ['content-type', 'application/grpc'],
  ['grpc-accept-encoding', 'identity'],
];
/** {@link RESPONSE_FIELDS} encoded once: the headers of every call that answers with messages. */
const RESPONSE_BLOCK: Buffer = encodeHeaderBlock(RESPONSE_FIELDS);
/** The trailers of a call that ends OK. */
const OK_TRAILERS_BLOCK: Buffer = encodeHeaderBlock([['grpc-status', '0']]);

function trailerFields(status: GrpcStatus): Array<[string, string]> {
  return status.details === ''
    ? [['grpc-status', String(status.code)]]
    : [
        ['grpc-status', String(status.code)],
        ['grpc-message', encodeGrpcMessage(status.details)],
      ];
}

/** The trailers ending a call that sent its response headers. */
function trailersBlock(status: GrpcStatus): Buffer {
  return status.code === 0 && status.details === ''
    ? OK_TRAILERS_BLOCK
    : encodeHeaderBlock(trailerFields(status));
}

/** A trailers-only answer: the response headers and the status in one block, ending the stream. */
export function trailersOnlyBlock(status: GrpcStatus): Buffer {
  return encodeHeaderBlock([...RESPONSE_FIELDS, ...trailerFields(status)]);
}

/** Relays the stream's events to its call (one small object per call; ServerCall has its own `end`). */
class CallStreamListener implements H2StreamListener {
  constructor(private readonly call: ServerCall) {}
  data(chunk: Buffer): void {
    this.call.onData(chunk);
  }
  end(): void {
    this.call.onEnd();
  }
  close(): void {
    this.call.onClose();
  }
  drain(): void {
    this.call.onStreamDrain();
  }
}

export class ServerCall {
  /** The request's headers: gRPC's metadata (the etcd `token` among them). */
  readonly metadata: CallMetadata;
  /** The request of a call whose response streams but whose request does not. */
  request: object | undefined = undefined;
  private readonly abortSignal = new CallSignal();
  private readonly reader: MessageReader;
  private listener: CallListener | undefined = undefined;
  private headersSent = false;
  private finished = false;
  private unaryRequest: Buffer | undefined = undefined;
  private deadline: DeadlineEntry | undefined = undefined;
  /** The bound on the request's arrival (calls whose request does not stream), until it is whole. */
  private arrival: DeadlineEntry | undefined = undefined;
  /** The request of a call whose request does not stream is whole (or the call ended). */
  private requestWhole = false;
  /** Response bytes of this call still counted in the connection's budget. */
  private queued = 0;
  /** Request bytes of this call counted in the connection's budget. */
  private requestHeld = 0;
  /** The stream closed: its bytes were given back, later write callbacks give back nothing. */
  private released = false;
  /** Waiting for the connection's budget (a `drain` is owed to the listener). */
  private awaitingBudget = false;
  /**
   * Request bytes of a streaming call that arrived while its connection was over its response
   * bound: held (and the stream paused) until the connection is back under it, so a client that
   * reads none of its answers cannot make the handler do more work meanwhile.
   */
  private heldChunks: Buffer[] | undefined = undefined;
  private heldBytes = 0;
  /** The handler asked to stop reading ({@link pauseRequests}). */
  private handlerPaused = false;

  constructor(
    private readonly stream: H2Stream,
    private readonly codec: MethodCodec,
    private readonly handler: MethodHandler,
    maxMessageBytes: number,
    private readonly budget: ConnectionBudget,
    private readonly liveness: ConnectionLiveness,
  ) {
    const headers = stream.headers;
    this.metadata = headers;
    const encoding = headers['grpc-encoding'];
    this.reader = new MessageReader(maxMessageBytes, typeof encoding === 'string' ? encoding : undefined);
    stream.listener = new CallStreamListener(this);
    if (codec.requestStream) this.dispatchStream();
  }

  /** Aborted when the call ends without the handler ending it. */
  get signal(): AbortSignal {
    return this.abortSignal.signal;
  }

  /** True once the client went away or the deadline passed. */
  get cancelled(): boolean {
    return this.abortSignal.aborted;
  }

  /** True once the call has its status (or the stream is gone). */
  get ended(): boolean {
    return this.finished;
  }

  /** Sets the call's deadline entry (the server's queue calls {@link expire} when it passes). */
  setDeadline(entry: DeadlineEntry): void {
    if (this.finished) entry.cancel();
    else this.deadline = entry;
  }

  /** True while a call whose request does not stream still waits for its request to be whole. */
  get awaitingRequest(): boolean {
    return !this.finished && !this.requestWhole;
  }

  /** Sets the bound on the request's arrival (the server's queue calls {@link requestLate}). */
  setArrivalDeadline(entry: DeadlineEntry): void {
    if (!this.awaitingRequest) entry.cancel();
    else this.arrival = entry;
  }

  /** The request did not arrive whole within `ms`: DEADLINE_EXCEEDED, the stream slot freed. */
  requestLate(ms: number): void {
    this.arrival = undefined;
    if (!this.awaitingRequest) return;
    this.refuse({
      code: GRPC.DEADLINE_EXCEEDED,
      details: `grpc: the request did not arrive within ${ms} ms`,
    });
  }

  /** Listens for request messages, half-close, cancellation and drain. */
  listen(listener: CallListener): void {
    this.listener = listener;
  }

  /** Stops reading request messages (HTTP/2 flow control then holds the client back). */
  pauseRequests(): void {
    this.handlerPaused = true;
    this.stream.pause();
  }

  /** Reads request messages again after {@link pauseRequests}. */
  resumeRequests(): void {
    this.handlerPaused = false;
    if (!this.finished && this.heldChunks === undefined) this.stream.resume();
  }

  /** Answers a unary call with `response` and status OK. */
  reply(response: object): void {
    if (this.finished) return;
    let bytes: Buffer;
    try {
      bytes = this.codec.serialize(response);
    } catch (err) {
      this.fail({ code: GRPC.INTERNAL, details: `grpc: error while marshaling: ${describeError(err)}` });
      return;
    }
    const budget = this.budget;
    if (budget.over) {
      this.fail(budget.queuedRefusal());
      return;
    }
    const frame = frameMessage(bytes);
    this.markFinished();
    const s = this.stream;
    if (s.localEnded) return;
    this.headersSent = true;
    const n = frame.length;
    this.queued += n;
    budget.add(n);
    try {
      s.reply(RESPONSE_BLOCK, frame, OK_TRAILERS_BLOCK, () => this.giveBack(n));
    } catch {
      s.reset(H2_INTERNAL_ERROR);
    }
  }

  /**
   * Writes one response message of a streaming call; false when the stream's buffer is full
   * (wait for the listener's `drain`) or the call has ended. `onWritten` runs once the bytes
   * left the buffer (or the stream was destroyed).
   */
  write(response: object, onWritten?: () => void): boolean {
    if (this.finished || this.stream.localEnded) return false;
    let bytes: Buffer;
    try {
      bytes = this.codec.serialize(response);
    } catch (err) {
      this.fail({ code: GRPC.INTERNAL, details: `grpc: error while marshaling: ${describeError(err)}` });
      return false;
    }
    try {
      this.sendHeaders();
      const frame = frameMessage(bytes);
      const n = frame.length;
      this.queued += n;
      this.budget.add(n);
      const ok = this.stream.write(frame, () => {
        this.giveBack(n);
        onWritten?.();
      });
      if (!this.budget.over) return ok;
      this.waitForBudget();
      return false;
    } catch {
      this.stream.reset(H2_INTERNAL_ERROR);
      return false;
    }
  }

  private giveBack(bytes: number): void {
    if (this.released) return;
    this.queued -= bytes;
    this.budget.release(bytes);
  }

  /** Registers for the budget's wake-up once per wait: `drain` is owed then. */
  private waitForBudget(): void {
    if (this.awaitingBudget) return;
    this.awaitingBudget = true;
    // A closure per wait, not per call: unary calls never wait.
    this.budget.whenBelow(() => this.onBudget());
  }

  /** The connection's budget came back under its limit: `drain` is owed unless the stream is full. */
  private onBudget(): void {
    this.awaitingBudget = false;
    if (!this.finished && !this.stream.needDrain) this.listener?.drain?.();
  }

  /** The stream's buffer drained: tell the listener, unless the connection is still over. */
  onStreamDrain(): void {
    if (this.budget.over) this.waitForBudget();
    else if (!this.awaitingBudget) this.listener?.drain?.();
  }

  /** Ends the call with status OK. */
  end(): void {
    this.finish({ code: 0, details: '' });
  }

  /** Ends the call with `status` (trailers-only when nothing was sent yet). */
  fail(status: GrpcStatus): void {
    this.finish(status);
  }

  /** The deadline passed: DEADLINE_EXCEEDED, and the handler is told. */
  expire(): void {
    if (this.finished) return;
    this.finish({ code: GRPC.DEADLINE_EXCEEDED, details: 'context deadline exceeded' });
    this.cancelHandler();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(RESPONSE_BLOCK, false);
  }

  private finish(status: GrpcStatus): void {
    if (this.finished) return;
    this.markFinished();
    const s = this.stream;
    if (s.localEnded) return;
    try {
      if (this.headersSent) {
        // After every queued message; RST_STREAM NO_ERROR follows if the client is still open.
        s.end(trailersBlock(status));
        return;
      }
      this.headersSent = true;
      // Headers-only: a client still sending is then told to stop with RST_STREAM NO_ERROR, as
      // grpc-go does (the connection follows any end of ours before the client's with it).
      s.respond(trailersOnlyBlock(status), true);
    } catch {
      s.reset(H2_INTERNAL_ERROR);
    }
  }

  /** The call has its status or its stream is gone: its timers (deadline, request arrival) end. */
  private markFinished(): void {
    this.finished = true;
    this.deadline?.cancel();
    this.clearArrival();
  }

  private clearArrival(): void {
    this.arrival?.cancel();
    this.arrival = undefined;
  }

  private cancelHandler(): void {
    this.abortSignal.abort();
    this.listener?.cancel?.();
  }

  /** Request bytes from the stream. */
  onData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.codec.requestStream && (this.heldChunks !== undefined || this.budget.over)) {
      this.hold(chunk);
      return;
    }
    this.read(chunk);
  }

  private read(chunk: Buffer): void {
    try {
      this.readMessages(chunk);
    } catch (err) {
      this.refuse({ code: GRPC.INTERNAL, details: `grpc: ${describeError(err)}` });
    }
    this.countRequestBytes();
  }

  /** Holds `chunk` until the connection is back under its response bound (see {@link heldChunks}). */
  private hold(chunk: Buffer): void {
    if (this.heldChunks === undefined) {
      this.heldChunks = [];
      this.stream.pause();
      this.budget.whenBelow(() => this.releaseHeld());
    }
    this.heldChunks.push(chunk);
    this.heldBytes += chunk.length;
    this.countRequestBytes();
  }

  /** The connection is under its bound again: the held bytes are read, then the stream resumes. */
  private releaseHeld(): void {
    const chunks = this.heldChunks;
    this.heldChunks = undefined;
    this.heldBytes = 0;
    if (chunks === undefined || this.finished) return;
    for (let i = 0; i < chunks.length; i++) {
      if (this.finished) return;
      if (this.budget.over) {
        for (let j = i; j < chunks.length; j++) this.hold(chunks[j]!);
        return;
      }
      this.read(chunks[i]!);
    }
    if (!this.handlerPaused && !this.finished) this.stream.resume();
  }

  /**
   * Brings the connection's count of request bytes in line with what this call holds (its
   * reader's partial message and a unary request waiting for the half-close); refuses the call
   * when that takes the connection over its limit.
   */
  private countRequestBytes(): void {
    const held =
      this.finished || this.released
        ? 0
        : this.reader.bufferedBytes +
          this.heldBytes +
          (this.unaryRequest === undefined ? 0 : this.unaryRequest.length);
    const delta = held - this.requestHeld;
    if (delta === 0) return;
    const budget = this.budget;
    budget.addRequestBytes(delta);
    this.requestHeld = held;
    if (delta > 0 && budget.requestOver) {
      const refusal = budget.requestRefusal();
      budget.addRequestBytes(-held);
      this.requestHeld = 0;
      this.refuse(refusal);
    }
  }

  private readMessages(chunk: Buffer): void {
    const messages = this.reader.push(chunk);
    if (!Array.isArray(messages)) {
      this.refuse(messages);
      return;
    }
    for (const m of messages) {
      if (this.finished) return;
      if (this.codec.requestStream) this.listener?.message?.(this.codec.deserialize(m));
      else if (this.unaryRequest === undefined) this.unaryRequest = m;
      else {
        this.refuse({
          code: GRPC.INTERNAL,
          details: 'grpc: a unary call carried more than one request message',
        });
        return;
      }
    }
  }

  /** The client half-closed. */
  onEnd(): void {
    if (this.finished) return;
    try {
      this.readEnd();
    } catch (err) {
      this.refuse({ code: GRPC.INTERNAL, details: `grpc: ${describeError(err)}` });
    }
  }

  private readEnd(): void {
    if (this.reader.midMessage) {
      this.refuse({ code: GRPC.INTERNAL, details: 'grpc: the request ended inside a message (truncated)' });
      return;
    }
    if (this.codec.requestStream) {
      this.listener?.end?.();
      return;
    }
    this.requestWhole = true;
    this.clearArrival();
    const bytes = this.unaryRequest;
    if (bytes === undefined) {
      this.refuse({ code: GRPC.INTERNAL, details: 'grpc: a unary call ended without a request message' });
      return;
    }
    this.unaryRequest = undefined;
    this.countRequestBytes();
    const request = this.codec.deserialize(bytes);
    if (this.handler.kind === 'unary') this.handler.handle(request, this);
    else {
      this.request = request;
      this.handler.handle(this);
    }
  }

  private dispatchStream(): void {
    if (this.handler.kind === 'stream') this.handler.handle(this);
  }

  /** The request bytes were refused: answer, and tell a handler already running. */
  private refuse(status: GrpcStatus): void {
    this.finish(status);
    this.cancelHandler();
  }

  /** The stream is gone: bytes given back; a call without its status is cancelled. */
  onClose(): void {
    this.liveness.callClosed();
    if (!this.released) {
      this.released = true;
      if (this.queued > 0) this.budget.release(this.queued);
      this.queued = 0;
      this.budget.addRequestBytes(-this.requestHeld);
      this.requestHeld = 0;
    }
    if (this.finished) return;
    this.markFinished();
    this.cancelHandler();
  }
}
