/**
 * A transport whose handlers run in one intern scope (`src/membership/intern.ts`), so a node of the
 * membership benchmark verifies and decodes what it receives itself, as it would alone in its
 * process, although every node shares one process.
 *
 * Why an adapter: the scope follows the async context, and Node keeps it for UDP sockets, timers,
 * promises and dialed TCP sockets created inside the scope, but not for the data of a TCP socket
 * a server accepted (Node 20: its handle's callbacks run with no context). Without this, a node's
 * side of every inbound stream (push-pull as listener, TCP fallback pings) would intern in the
 * process scope, shared with every other node. Used by `bench/_membership-cluster.ts`; skipped
 * by the bench runner (the name starts with `_`).
 */
import { type InternScope, runInInternScope } from '../src/membership/intern.js';
import type {
  Address,
  CloseHandler,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from '../src/transport/types.js';

/** A stream whose handlers run in `scope`. */
class ScopedStream implements Stream {
  constructor(
    private readonly inner: Stream,
    private readonly scope: InternScope,
  ) {}

  get remoteAddress(): Address {
    return this.inner.remoteAddress;
  }

  get open(): boolean {
    return this.inner.open;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  send(frame: Uint8Array): boolean {
    return this.inner.send(frame);
  }

  write(frame: Uint8Array): Promise<void> {
    return this.inner.write(frame);
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.inner.onFrame((frame) => runInInternScope(this.scope, () => handler(frame)));
  }

  onDrain(handler: () => void): void {
    this.inner.onDrain(() => runInInternScope(this.scope, handler));
  }

  onClose(handler: CloseHandler): void {
    this.inner.onClose((error) => runInInternScope(this.scope, () => handler(error)));
  }

  close(): void {
    this.inner.close();
  }

  destroy(error?: Error): void {
    this.inner.destroy(error);
  }
}

/**
 * `inner` with every handler (packets, inbound and dialed streams) run in `scope`.
 *
 * @example
 * ```ts
 * const scope = new InternScope('n1');
 * const transport = new ScopedTransport(await NetTransport.create(options), scope);
 * ```
 */
export class ScopedTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    readonly scope: InternScope,
  ) {}

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  get limits(): TransportLimits {
    return this.inner.limits;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.inner.sendPacket(to, data);
  }

  onPacket(handler: PacketHandler): void {
    this.inner.onPacket((from, data) => runInInternScope(this.scope, () => handler(from, data)));
  }

  async dial(to: Address, options?: DialOptions): Promise<Stream> {
    return new ScopedStream(await this.inner.dial(to, options), this.scope);
  }

  onStream(handler: StreamHandler): void {
    this.inner.onStream((stream) =>
      runInInternScope(this.scope, () => handler(new ScopedStream(stream, this.scope))),
    );
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
