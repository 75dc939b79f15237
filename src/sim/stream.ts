import { CairnError, describeError } from '../core/index.js';
import type { Address, CloseHandler, Stream } from '../transport/types.js';
import { EventKind, type EventSink, SimEvent } from './events.js';
import type { SimTransport } from './transport.js';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * One end of a simulated stream; implements the transport brick's `Stream`.
 *
 * Each frame is copied and delivered to the peer end after a latency drawn for the link, with
 * delivery times kept monotonic per direction: jitter never reorders a stream. `bufferedBytes`
 * counts bytes sent and not yet delivered, so backpressure follows the simulated link: `send`
 * returns false above the high-water mark and the drain handler runs (as an event of the sender)
 * once deliveries bring the buffer back to it.
 *
 * Close semantics as TCP: `close()` sends a FIN after the queued frames; the peer delivers those
 * frames, closes cleanly and answers with its own FIN, on whose arrival the closer's close handler
 * runs (no error). `destroy()` closes at once with an error and sends a reset; a partition or a
 * crash resets both ends (the crashed side runs no handler).
 */
export class SimStreamEnd implements Stream, EventSink {
  /** @internal The other end. */
  peer!: SimStreamEnd;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private buffered = 0;
  private needDrain = false;
  private drainQueued = false;
  /** Delivery time of the last frame or FIN sent from this end (monotonic). */
  private lastAt: number;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private drainHandler: (() => void) | undefined;
  private closeHandler: CloseHandler | undefined;
  private closeNotified = false;
  private closeError: Error | undefined;
  private inbox: Uint8Array[] = [];
  private waiters: Waiter[] = [];
  private breaking = false;

  /**
   * @param transport - the transport this end belongs to
   * @param remoteAddress - the peer transport's address
   * @param firstAt - no frame from this end arrives before this time (the connection's setup)
   */
  constructor(
    readonly transport: SimTransport,
    readonly remoteAddress: Address,
    firstAt: number,
  ) {
    this.lastAt = firstAt;
  }

  get open(): boolean {
    return this.state === 'open';
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open')
      throw new CairnError('TRANSPORT_CLOSED', `stream to ${this.remoteAddress} is closed`);
    const limits = this.transport.limits;
    const len = frame.length;
    if (len > limits.maxFrameBytes) {
      throw new CairnError(
        'TRANSPORT_FRAME_TOO_LARGE',
        `frame of ${len} bytes is over maxFrameBytes=${limits.maxFrameBytes}`,
        {
          details: { length: len, max: limits.maxFrameBytes },
        },
      );
    }
    if (this.buffered + len > limits.maxStreamBufferBytes) {
      throw new CairnError(
        'TRANSPORT_BACKPRESSURE',
        `stream to ${this.remoteAddress} has ${this.buffered + len} bytes buffered, over maxStreamBufferBytes=${limits.maxStreamBufferBytes}`,
      );
    }
    this.buffered += len;
    const stats = this.transport.stats;
    stats.framesSent++;
    stats.frameBytesSent += len;
    this.transport.network.stats.framesSent++;
    this.transport.network.stats.frameBytesSent += len;
    const ev = this.toPeer(EventKind.frame);
    ev.data = frame.slice();
    if (this.buffered > limits.streamHighWaterBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  async write(frame: Uint8Array): Promise<void> {
    if (this.send(frame)) return;
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
    if (this.inbox.length === 0) return;
    const queued = this.inbox;
    this.inbox = [];
    for (const frame of queued) if (!this.deliver(frame)) break;
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: CloseHandler): void {
    this.closeHandler = handler;
    // Closed before anyone listened (e.g. between dial resolving and the caller's next line).
    if (this.state === 'closed' && !this.closeNotified) queueMicrotask(() => this.notifyClose());
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.inbox = [];
    this.rejectWaiters();
    this.toPeer(EventKind.fin);
  }

  destroy(error?: Error): void {
    if (this.state === 'closed') return;
    this.finish(
      error ?? new CairnError('TRANSPORT_CLOSED', `stream to ${this.remoteAddress} was destroyed locally`),
    );
    this.resetPeer(
      new CairnError('TRANSPORT_CLOSED', `stream to ${this.transport.localAddress} was reset by the peer`),
    );
  }

  /** @internal The owner crashed: close without running any handler, reset the peer. */
  vanish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeNotified = true;
    this.inbox = [];
    this.waiters = [];
    this.transport.streams.delete(this);
    this.transport.network.stats.streamsBroken++;
    this.resetPeer(
      new CairnError(
        'TRANSPORT_CLOSED',
        `connection to ${this.transport.localAddress} was reset (peer crashed)`,
      ),
    );
  }

  /** @internal Closes both ends with TRANSPORT_UNREACHABLE when a partition now cuts the path. */
  breakIfCut(): void {
    if (this.state === 'closed' || this.breaking) return;
    const net = this.transport.network;
    const mine = this.transport.host;
    const theirs = this.peer.transport.host;
    if (!net.blocked(mine, theirs) && !net.blocked(theirs, mine)) return;
    this.breaking = true;
    net.stats.streamsBroken++;
    const ev = this.post(this.transport, EventKind.reset, this.transport.network.sim.now);
    ev.aux = new CairnError(
      'TRANSPORT_UNREACHABLE',
      `stream to ${this.remoteAddress} broke: the network is partitioned`,
    );
  }

  // ---------------------------------------------------------------- events

  handle(ev: SimEvent): void {
    switch (ev.kind) {
      case EventKind.frame:
        this.receiveFrame(ev.data!);
        return;
      case EventKind.fin:
        this.receiveFin();
        return;
      case EventKind.reset:
        this.finish(ev.aux as Error);
        return;
      case EventKind.drain:
        this.drainQueued = false;
        this.checkDrain();
        return;
      default:
        throw new CairnError('INTERNAL', `stream got an event of kind ${ev.kind}`);
    }
  }

  describe(ev: SimEvent): string {
    const t = this.transport;
    const kind =
      ev.kind === EventKind.frame
        ? `frame len=${ev.data?.length ?? 0}`
        : ev.kind === EventKind.fin
          ? 'fin'
          : ev.kind === EventKind.reset
            ? 'reset'
            : 'drain';
    return `${ev.at.toFixed(3)} stream ${kind} ${this.remoteAddress} -> ${t.localAddress} (${t.network.sim.nodeName(t.node)})`;
  }

  private receiveFrame(frame: Uint8Array): void {
    const sender = this.peer;
    sender.buffered -= frame.length;
    if (sender.needDrain && !sender.drainQueued && sender.state === 'open') {
      const hw = sender.transport.limits.streamHighWaterBytes;
      if (sender.buffered <= hw) {
        sender.drainQueued = true;
        sender.post(sender.transport, EventKind.drain, this.transport.network.sim.now);
      }
    }
    if (this.state !== 'open') {
      this.transport.network.stats.dropped.closed++;
      return;
    }
    this.transport.network.stats.framesDelivered++;
    this.deliver(frame);
  }

  private deliver(frame: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    const stats = this.transport.stats;
    stats.framesReceived++;
    stats.frameBytesReceived += frame.length;
    const handler = this.frameHandler;
    if (handler === undefined) {
      this.inbox.push(frame);
      return true;
    }
    try {
      handler(frame);
    } catch (err) {
      stats.drop('handler_error');
      this.transport.network.sim.logger.error(
        { peer: this.remoteAddress, err: describeError(err) },
        'frame handler threw',
      );
      this.destroy(new CairnError('INTERNAL', `frame handler threw: ${describeError(err)}`, { cause: err }));
      return false;
    }
    return this.state === 'open';
  }

  private receiveFin(): void {
    if (this.state === 'open') {
      // The peer closed: answer with our FIN (after anything we still have in flight) and finish.
      this.toPeer(EventKind.fin);
      this.finish(undefined);
    } else if (this.state === 'closing') {
      this.finish(undefined);
    }
  }

  private checkDrain(): void {
    if (!this.needDrain || this.state !== 'open') return;
    if (this.buffered > this.transport.limits.streamHighWaterBytes) return;
    this.needDrain = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    const handler = this.drainHandler;
    if (handler === undefined) return;
    try {
      handler();
    } catch (err) {
      this.transport.stats.drop('handler_error');
      this.transport.network.sim.logger.error(
        { peer: this.remoteAddress, err: describeError(err) },
        'drain handler threw',
      );
    }
  }

  /** Queues an event for the peer after every frame already sent from this end. */
  private toPeer(kind: number): SimEvent {
    const peer = this.peer;
    const net = this.transport.network;
    const at = Math.max(net.sim.now + net.latency(this.transport.host, peer.transport.host), this.lastAt);
    this.lastAt = at;
    const ev = this.post(peer.transport, kind, at);
    ev.sink = peer;
    ev.from = this.transport.id;
    ev.to = peer.transport.id;
    return ev;
  }

  private resetPeer(error: Error): void {
    const peer = this.peer;
    if (peer.state === 'closed') return;
    const net = this.transport.network;
    const ev = this.post(
      peer.transport,
      EventKind.reset,
      net.sim.now + net.latency(this.transport.host, peer.transport.host),
    );
    ev.sink = peer;
    ev.aux = error;
    ev.from = this.transport.id;
    ev.to = peer.transport.id;
  }

  /** Queues an event owned by `owner`'s node, for this end unless the caller changes the sink. */
  private post(owner: SimTransport, kind: number, at: number): SimEvent {
    const ev = new SimEvent();
    ev.at = at;
    ev.kind = kind;
    ev.node = owner.node;
    ev.inc = owner.inc;
    ev.sink = this;
    return owner.network.sim.enqueue(ev);
  }

  private rejectWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    if (waiters.length === 0) return;
    const err = new CairnError(
      'TRANSPORT_CLOSED',
      `stream to ${this.remoteAddress} closed while waiting for drain`,
    );
    for (const w of waiters) w.reject(err);
  }

  /** The one place an end becomes closed; later calls are no-ops. */
  private finish(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.inbox = [];
    this.rejectWaiters();
    this.closeError = error;
    this.transport.streams.delete(this);
    this.transport.stats.streamsClosed++;
    if (this.closeHandler !== undefined) this.notifyClose();
  }

  private notifyClose(): void {
    if (this.closeNotified || this.closeHandler === undefined) return;
    this.closeNotified = true;
    try {
      this.closeHandler(this.closeError);
    } catch (err) {
      this.transport.stats.drop('handler_error');
      this.transport.network.sim.logger.error(
        { peer: this.remoteAddress, err: describeError(err) },
        'close handler threw',
      );
    }
  }
}
