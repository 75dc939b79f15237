import type { Logger } from '../core/index.js';
import { CairnError, isLoaned, recycleBytes, takeBytes } from '../core/index.js';
import { FRAME_COPY_MAX_BYTES } from '../transport/limits.js';
import type { TransportStats } from '../transport/stats.js';
import { StreamEnd } from '../transport/stream-end.js';
import type { Address, TransportLimits } from '../transport/types.js';
import { EventKind, type EventSink, SimEvent } from './events.js';
import type { SimTransport } from './transport.js';

/**
 * Recyclable frames (core's `takeBytes`) on their way, with how many times: a frame is given back
 * only once no event carries it any more, so a handler may send the frame it was handed (an echo).
 */
const inFlight = new WeakMap<Uint8Array, number>();

/**
 * One end of a simulated stream; implements the transport brick's `Stream`.
 *
 * Each frame (copied into recyclable memory up to 16 KiB, otherwise by reference, as TCP; see
 * `send` and `receiveFrame`) is delivered to the peer end after a latency drawn for the link, with
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
export class SimStreamEnd extends StreamEnd implements EventSink {
  /** @internal The other end. */
  peer!: SimStreamEnd;
  private buffered = 0;
  private drainQueued = false;
  /** Delivery time of the last frame or FIN sent from this end (monotonic). */
  private lastAt: number;
  private breaking = false;
  /** Events from the peer that a partition stalled, in order; released by the network's heal. */
  private stalled: SimEvent[] = [];

  /**
   * @param transport - the transport this end belongs to
   * @param remoteAddress - the peer transport's address
   * @param firstAt - no frame from this end arrives before this time (the connection's setup)
   */
  constructor(
    readonly transport: SimTransport,
    remoteAddress: Address,
    firstAt: number,
  ) {
    super(remoteAddress);
    this.lastAt = firstAt;
  }

  protected get stats(): TransportStats {
    return this.transport.stats;
  }

  protected get logger(): Logger {
    return this.transport.network.sim.logger;
  }

  protected get limits(): TransportLimits {
    return this.transport.limits;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  send(frame: Uint8Array): boolean {
    const len = frame.length;
    this.checkSend(len, this.buffered + len);
    this.buffered += len;
    this.transport.network.stats.framesSent++;
    this.transport.network.stats.frameBytesSent += len;
    const ev = this.toPeer(EventKind.frame);
    // As the net stream: small frames copied, large ones by reference (the sender must not modify
    // them). Copying every large frame was half of what a 10,000-node join allocated outside the
    // heap, and V8 answers each 64 MB of that with a collection of the whole heap. The copies are
    // recyclable, and so is a frame the sender took with `takeBytes` (sending hands it on; it is
    // not copied, whatever its size): see receiveFrame.
    let data = frame;
    if (len <= FRAME_COPY_MAX_BYTES && !isLoaned(frame)) {
      data = takeBytes(len);
      data.set(frame);
    }
    if (isLoaned(data)) inFlight.set(data, (inFlight.get(data) ?? 0) + 1);
    ev.data = data;
    return this.afterSend(len, this.buffered);
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
    // What the crashed side sent and the peer did not get yet is lost with it (its retransmit
    // queue died); what it was owed will be discarded as stale.
    this.peer.stalled = this.peer.stalled.filter((ev) => ev.kind === EventKind.reset);
    this.stalled = [];
    this.vanishQuietly();
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

  /**
   * Holds a frame, FIN or reset from the peer while a partition cuts the peer-to-here direction,
   * and everything after one that was held (so a stream never reorders).
   */
  hold(ev: SimEvent): boolean {
    if (ev.from === 0) return false; // this end's own event (drain, a local reset)
    if (this.stalled.length === 0) {
      const net = this.transport.network;
      if (!net.partitioned || !net.blocked(this.peer.transport.host, this.transport.host)) return false;
      net.stalled(this);
    } else {
      this.transport.network.stats.streamEventsStalled++;
    }
    this.stalled.push(ev);
    return true;
  }

  /** @internal Hands the stalled events over for delivery (the partition healed). */
  releaseStalled(): SimEvent[] {
    const events = this.stalled;
    this.stalled = [];
    return events;
  }

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
    const copies = inFlight.get(frame);
    if (copies !== undefined) {
      if (copies > 1) inFlight.set(frame, copies - 1);
      else inFlight.delete(frame);
    }
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
    // The frame is the handler's for the call only (see Stream.onFrame): a recyclable one (the
    // copy of a small frame, or one the sender took with `takeBytes`) is poisoned and reused,
    // unless it waits in the inbox for a handler or is on its way again (a handler echoed it).
    if (!this.inbox.includes(frame) && !inFlight.has(frame)) recycleBytes(frame);
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

  /** The one place an end becomes closed; later calls are no-ops. */
  private finish(error: Error | undefined): void {
    if (!this.markClosed(error)) return;
    this.transport.streams.delete(this);
    this.notifyClose();
  }
}
