import type { Socket } from 'node:net';
import {
  CairnError,
  type Clock,
  describeError,
  isCairnError,
  type Logger,
  type TimerHandle,
} from '../../core/index.js';
import { FRAME_COPY_MAX_BYTES, type InboundLimits } from '../limits.js';
import type { RejectLog } from '../reject-log.js';
import type { DropReason, TransportStats } from '../stats.js';
import { StreamEnd } from '../stream-end.js';
import type { Address, TransportLimits } from '../types.js';
import { FRAME_HEADER_BYTES, type FrameBudget, FrameDecoder } from './frame-decoder.js';

/** What a {@link NetStream} needs from its transport. */
export interface NetStreamContext {
  readonly limits: TransportLimits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: TransportStats;
  readonly closeTimeoutMs: number;
  /** Deadlines of accepted streams and the frame limit before they proved themselves. */
  readonly inbound: InboundLimits;
  /** The transport's memory for frames still arriving, shared by all its streams. */
  readonly budget: FrameBudget;
  /** Where streams cut for misbehaving are logged, at a bounded rate. */
  readonly rejects: RejectLog;
  /** Called once when the stream has closed, so the transport forgets it. */
  readonly onClosed: (stream: NetStream) => void;
}

/** How an inbound stream came to be. */
export interface Accepted {
  /** The connection's decoder, which has read the hello. */
  readonly decoder: FrameDecoder;
  /** The connection's source IP, which its slot is counted against. */
  readonly sourceHost: string;
}

/** Frames up to this size are copied into the send slab; larger ones are written without a copy. */
const COPY_MAX_BYTES = FRAME_COPY_MAX_BYTES;
/** Size of one send slab: a batch of small frames becomes one `write` of at most this much. */
const SLAB_BYTES = 64 * 1024;
/** Flush at once when this much is pending, rather than waiting for the end of the tick. */
const EAGER_FLUSH_BYTES = 256 * 1024;
/** A stream allocates its first slab on its first send: idle streams cost no send buffer. */
const EMPTY = Buffer.alloc(0);

/**
 * One TCP connection carrying length-prefixed frames; see `types.ts` for the contract.
 *
 * Send path: small frames are copied, header and payload, into a shared slab; everything queued in
 * one tick goes to the socket as one write (or one corked `writev` when large frames are among
 * them). No per-frame allocation for small frames. Receive path: {@link FrameDecoder}.
 *
 * Frames passed to `send` larger than 16 KiB are written without a copy: the caller must not
 * modify them afterwards.
 */
export class NetStream extends StreamEnd {
  private readonly socket: Socket;
  private readonly ctx: NetStreamContext;
  private readonly decoder: FrameDecoder;
  private slab: Buffer = EMPTY;
  private slabStart = 0;
  private slabEnd = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private closeTimer: TimerHandle | undefined;
  private closedWaiters: Array<() => void> = [];
  /** Source IP of an accepted stream; undefined for a stream this transport dialed. */
  readonly sourceHost: string | undefined;
  /** Whole frames received and sent: what the deadlines count as progress. */
  private framesIn = 0;
  private framesOut = 0;
  /** When the stream opened, and when {@link sweep} last saw progress (clock ms). */
  private readonly openedAtMs: number;
  private quietSinceMs: number;
  private sweptProgress = 0;
  /** When a sweep first saw the current unfinished frame; undefined when none is arriving. */
  private partialSinceMs: number | undefined = undefined;
  /** Accepted streams take small frames only until a handler accepted their first frame. */
  private proven: boolean;
  private readonly deliverBound = (frame: Uint8Array): boolean => {
    this.framesIn++;
    return this.deliver(frame);
  };
  private readonly flushBound = (): void => this.flush();

  /**
   * @param socket - a connected socket; the stream takes it over
   * @param remoteAddress - the peer's transport address
   * @param ctx - limits, clock, logger and counters of the owning transport
   * @param accepted - for an inbound stream: its decoder (which read the hello) and source IP
   */
  constructor(socket: Socket, remoteAddress: Address, ctx: NetStreamContext, accepted?: Accepted) {
    super(remoteAddress);
    this.socket = socket;
    this.ctx = ctx;
    this.sourceHost = accepted?.sourceHost;
    this.proven = accepted === undefined;
    this.decoder = accepted?.decoder ?? new FrameDecoder(ctx.limits.maxFrameBytes, ctx.budget);
    this.decoder.maxFrameBytes = this.proven
      ? ctx.limits.maxFrameBytes
      : Math.min(ctx.limits.maxFrameBytes, ctx.inbound.unprovenMaxFrameBytes);
    this.openedAtMs = ctx.clock.now();
    this.quietSinceMs = this.openedAtMs;
    socket.on('data', (chunk: Buffer) => this.ingest(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.finish(mapSocketError(err, remoteAddress)));
    socket.on('close', () =>
      // Our own close that ends with the socket closing is clean; any other unexplained close is not.
      this.finish(
        this.state === 'closing'
          ? undefined
          : new CairnError('TRANSPORT_CLOSED', `connection to ${remoteAddress} closed`),
      ),
    );
    socket.on('drain', () => this.checkDrain());
    ctx.stats.streamsOpened++;
  }

  protected get stats(): TransportStats {
    return this.ctx.stats;
  }

  protected get logger(): Logger {
    return this.ctx.logger;
  }

  protected get limits(): TransportLimits {
    return this.ctx.limits;
  }

  get bufferedBytes(): number {
    return this.pendingBytes + (this.slabEnd - this.slabStart) + this.socket.writableLength;
  }

  send(frame: Uint8Array): boolean {
    const len = frame.length;
    const buffered = this.bufferedBytes + FRAME_HEADER_BYTES + len;
    this.checkSend(len, buffered);
    this.framesOut++;
    if (len <= COPY_MAX_BYTES) this.appendCopy(frame, len);
    else this.appendLarge(frame, len);
    if (this.pendingBytes >= EAGER_FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushBound);
    }
    return this.afterSend(len, buffered);
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.inbox = [];
    this.flush();
    this.rejectWaiters();
    this.socket.end();
    // Incoming frames are dropped from now on; keep reading so the peer's FIN is seen.
    this.socket.resume();
    this.closeTimer = this.ctx.clock.setTimer(this.ctx.closeTimeoutMs, () => {
      this.closeTimer = undefined;
      this.socket.destroy();
      this.finish(
        new CairnError(
          'TIMEOUT',
          `peer ${this.remoteAddress} did not finish closing within ${this.ctx.closeTimeoutMs} ms`,
        ),
      );
    });
  }

  destroy(error?: Error): void {
    if (this.state === 'closed') return;
    // A RST, not a FIN: the peer must see an error close, not a clean one.
    if (!this.socket.destroyed) {
      try {
        this.socket.resetAndDestroy();
      } catch {
        // resetAndDestroy refuses some handle states; a plain destroy still closes the socket.
      }
      if (!this.socket.destroyed) this.socket.destroy();
    }
    this.finish(
      error ?? new CairnError('TRANSPORT_CLOSED', `stream to ${this.remoteAddress} was destroyed locally`),
    );
  }

  /** Resolves once the stream has closed (for the transport's own shutdown; not a user hook). */
  whenClosed(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** Feeds bytes read from the socket; also used for the bytes that followed an inbound hello. */
  ingest(chunk: Uint8Array): void {
    if (this.state !== 'open' || chunk.length === 0) return;
    try {
      this.decoder.push(chunk, this.deliverBound);
    } catch (err) {
      const reason = isCairnError(err, 'LIMIT_EXCEEDED') ? 'frame_budget' : 'frame_too_large';
      this.cut(reason, err instanceof Error ? err : new CairnError('INTERNAL', describeError(err)));
    }
  }

  /**
   * The transport's periodic deadline check (every quarter of the shortest deadline, so a deadline
   * fires up to a quarter late). Progress is a whole frame, never a byte: a frame whose header
   * arrived must complete within `frameTimeoutMs`; an accepted stream must deliver its first frame
   * within `firstFrameTimeoutMs` and is closed cleanly after `idleTimeoutMs` without a frame in
   * either direction. A stream whose frames wait for a handler is not the peer's fault and waits.
   */
  sweep(now: number): void {
    if (this.state !== 'open') return;
    const partial = this.decoder.partial;
    const progress = this.framesIn + this.framesOut;
    if (progress !== this.sweptProgress || this.inbox.length > 0) {
      this.sweptProgress = progress;
      this.quietSinceMs = now;
      this.partialSinceMs = partial ? now : undefined;
      return;
    }
    if (!partial) this.partialSinceMs = undefined;
    else if (this.partialSinceMs === undefined) this.partialSinceMs = now;
    const limits = this.ctx.inbound;
    if (this.partialSinceMs !== undefined && now - this.partialSinceMs >= limits.frameTimeoutMs) {
      this.cut('frame_timeout', this.timeout(`a frame did not complete within ${limits.frameTimeoutMs} ms`));
      return;
    }
    // A stream we dialed is its owner's to close; the deadlines below are for accepted ones.
    if (this.sourceHost === undefined) return;
    if (this.framesIn === 0) {
      if (now - this.openedAtMs >= limits.firstFrameTimeoutMs) {
        this.cut('first_frame_timeout', this.timeout(`no frame within ${limits.firstFrameTimeoutMs} ms`));
      }
      return;
    }
    if (!partial && now - this.quietSinceMs >= limits.idleTimeoutMs) {
      this.ctx.stats.drop('idle_timeout');
      this.ctx.logger.debug({ peer: this.remoteAddress }, 'closing an idle inbound stream');
      this.close();
    }
  }

  protected override frameHandled(): void {
    if (this.proven) return;
    // The owner took the first frame (under sealing: it opened), so the peer speaks our protocol.
    this.proven = true;
    this.decoder.maxFrameBytes = this.ctx.limits.maxFrameBytes;
  }

  private timeout(what: string): CairnError {
    return new CairnError('TIMEOUT', `stream from ${this.remoteAddress}: ${what}`);
  }

  /** Destroys the stream for misbehaving: counted, and logged at a bounded rate. */
  private cut(reason: DropReason, err: Error): void {
    this.ctx.stats.drop(reason);
    this.ctx.rejects.note(reason, {
      peer: this.remoteAddress,
      source: this.sourceHost,
      err: describeError(err),
    });
    this.destroy(err);
  }

  private appendCopy(frame: Uint8Array, len: number): void {
    const need = FRAME_HEADER_BYTES + len;
    if (this.slabEnd + need > this.slab.length) {
      this.cutSlab();
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabStart = 0;
      this.slabEnd = 0;
    }
    const slab = this.slab;
    const at = this.slabEnd;
    slab[at] = len >>> 24;
    slab[at + 1] = (len >>> 16) & 0xff;
    slab[at + 2] = (len >>> 8) & 0xff;
    slab[at + 3] = len & 0xff;
    slab.set(frame, at + FRAME_HEADER_BYTES);
    this.slabEnd = at + need;
  }

  private appendLarge(frame: Uint8Array, len: number): void {
    this.cutSlab();
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(len, 0);
    this.pending.push(header, frame);
    this.pendingBytes += FRAME_HEADER_BYTES + len;
  }

  /** Moves the filled part of the slab to the pending list; that region is never written again. */
  private cutSlab(): void {
    if (this.slabEnd === this.slabStart) return;
    this.pending.push(this.slab.subarray(this.slabStart, this.slabEnd));
    this.pendingBytes += this.slabEnd - this.slabStart;
    this.slabStart = this.slabEnd;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === 'closed') return;
    this.cutSlab();
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    if (pending.length === 1) {
      this.socket.write(pending[0]!);
    } else {
      this.socket.cork();
      for (const chunk of pending) this.socket.write(chunk);
      this.socket.uncork();
    }
    this.checkDrain();
  }

  private onEnd(): void {
    if (this.state === 'closed') return;
    if (this.decoder.partial && this.state === 'open') {
      this.finish(
        new CairnError(
          'TRANSPORT_CLOSED',
          `peer ${this.remoteAddress} closed the stream in the middle of a frame`,
        ),
      );
      this.socket.destroy();
      return;
    }
    this.finish(undefined);
  }

  protected override frameHeld(): void {
    // Nobody listens yet: stop reading until a frame handler is set.
    this.socket.pause();
  }

  protected override inboxEmptied(): void {
    this.socket.resume();
  }

  /** The one place a stream becomes closed; later calls are no-ops. */
  private finish(error: Error | undefined): void {
    if (!this.markClosed(error)) return;
    if (this.closeTimer !== undefined) this.ctx.clock.cancel(this.closeTimer);
    this.closeTimer = undefined;
    this.pending = [];
    this.pendingBytes = 0;
    this.slabStart = this.slabEnd;
    this.decoder.release();
    this.ctx.onClosed(this);
    for (const resolve of this.closedWaiters) resolve();
    this.closedWaiters = [];
    this.notifyClose();
  }
}

function mapSocketError(err: Error, peer: Address): CairnError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new CairnError('TRANSPORT_CLOSED', `connection to ${peer} failed: ${code}`, {
    cause: err,
    details: { errno: code },
  });
}
