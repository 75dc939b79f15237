import type { Socket } from 'node:net';
import { CairnError, type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import { FRAME_COPY_MAX_BYTES } from '../limits.js';
import type { TransportStats } from '../stats.js';
import { StreamEnd } from '../stream-end.js';
import type { Address, TransportLimits } from '../types.js';
import { FRAME_HEADER_BYTES, FrameDecoder } from './frame-decoder.js';

/** What a {@link NetStream} needs from its transport. */
export interface NetStreamContext {
  readonly limits: TransportLimits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: TransportStats;
  readonly closeTimeoutMs: number;
  /** Called once when the stream has closed, so the transport forgets it. */
  readonly onClosed: (stream: NetStream) => void;
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
  private readonly deliverBound = (frame: Uint8Array): boolean => this.deliver(frame);
  private readonly flushBound = (): void => this.flush();

  /**
   * @param socket - a connected socket; the stream takes it over
   * @param remoteAddress - the peer's transport address
   * @param ctx - limits, clock, logger and counters of the owning transport
   * @param decoder - the connection's decoder (inbound connections have used it for the hello)
   */
  constructor(socket: Socket, remoteAddress: Address, ctx: NetStreamContext, decoder?: FrameDecoder) {
    super(remoteAddress);
    this.socket = socket;
    this.ctx = ctx;
    this.decoder = decoder ?? new FrameDecoder(ctx.limits.maxFrameBytes);
    this.decoder.maxFrameBytes = ctx.limits.maxFrameBytes;
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
      this.ctx.stats.drop('frame_too_large');
      this.ctx.logger.warn({ peer: this.remoteAddress, err: describeError(err) }, 'cutting off a stream');
      this.destroy(err instanceof Error ? err : new CairnError('INTERNAL', describeError(err)));
    }
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
