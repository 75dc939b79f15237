import { createServer } from 'node:net';
import { type Deferred, deferred } from '../../src/core/index.js';
import { Keyring } from '../../src/security/keyring.js';
import type { Address, Stream, Transport } from '../../src/transport/types.js';

/** Resolves with the next stream `t` accepts (replaces `t`'s stream handler). */
export function nextStream(t: Transport): Promise<Stream> {
  const d = deferred<Stream>();
  t.onStream((s) => d.resolve(s));
  return d.promise;
}

/** Dials `to` from `from` and returns both ends. */
export async function connectPair(from: Transport, to: Transport): Promise<{ out: Stream; inb: Stream }> {
  const accepted = nextStream(to);
  const out = await from.dial(to.localAddress);
  const inb = await accepted;
  return { out, inb };
}

/** Collects frames and close events of one stream; set up before any frame can arrive. */
export class Recorder {
  readonly frames: Uint8Array[] = [];
  closeCalls = 0;
  closeError: Error | undefined = undefined;
  private readonly closed = deferred<Error | undefined>();
  private waiting: { count: number; d: Deferred<Uint8Array[]> } | undefined;

  constructor(readonly stream: Stream) {
    stream.onFrame((f) => {
      // Copy: a transport may hand out views of its read buffers.
      this.frames.push(Uint8Array.from(f));
      this.check();
    });
    stream.onClose((err) => {
      this.closeCalls++;
      this.closeError = err;
      this.closed.resolve(err);
      if (this.waiting !== undefined && this.frames.length < this.waiting.count) {
        this.waiting.d.reject(
          new Error(
            `stream closed after ${this.frames.length} of ${this.waiting.count} frames: ${String(err)}`,
          ),
        );
      }
    });
  }

  /** Resolves once `count` frames in total have arrived; rejects if the stream closes first. */
  framesUntil(count: number): Promise<Uint8Array[]> {
    const d = deferred<Uint8Array[]>();
    this.waiting = { count, d };
    this.check();
    if (this.closeCalls > 0 && this.frames.length < count) d.reject(new Error('stream already closed'));
    return d.promise;
  }

  /** Resolves with the close error (undefined for a clean close). */
  whenClosed(): Promise<Error | undefined> {
    return this.closed.promise;
  }

  private check(): void {
    if (this.waiting !== undefined && this.frames.length >= this.waiting.count) {
      this.waiting.d.resolve(this.frames.slice(0, this.waiting.count));
      this.waiting = undefined;
    }
  }
}

/** A frame whose first 4 bytes carry `index` and whose other bytes are a pattern of it. */
export function indexedFrame(index: number, size: number): Uint8Array {
  const f = new Uint8Array(size);
  for (let i = 4; i < size; i++) f[i] = (index + i) & 0xff;
  if (size >= 4) new DataView(f.buffer).setUint32(0, index);
  return f;
}

/** The index {@link indexedFrame} wrote, checking the pattern; -1 when the frame is damaged. */
export function frameIndex(f: Uint8Array): number {
  if (f.length < 4) return -1;
  const index = new DataView(f.buffer, f.byteOffset, f.length).getUint32(0);
  for (let i = 4; i < f.length; i++) if (f[i] !== ((index + i) & 0xff)) return -1;
  return index;
}

/** Resolves with the next packet `t` receives (replaces `t`'s packet handler). */
export function nextPacket(t: Transport): Promise<{ from: Address; data: Uint8Array }> {
  const d = deferred<{ from: Address; data: Uint8Array }>();
  t.onPacket((from, data) => d.resolve({ from, data: Uint8Array.from(data) }));
  return d.promise;
}

/**
 * A keyring for tests, with a deterministic nonce source (a counter), so simulated runs stay
 * reproducible. One place to adapt if the keyring's constructor changes.
 */
export function testKeyring(keyByte: number, label = 'contract'): Keyring {
  let counter = 0;
  const random = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let c = ++counter;
    for (let i = 0; i < n && c > 0; i++) {
      out[i] = c & 0xff;
      c = Math.floor(c / 256);
    }
    return out;
  };
  return new Keyring({ keys: [new Uint8Array(32).fill(keyByte)], label, nonce: random });
}

export { ManualClock } from '../../src/core/manual-clock.js';

/** A loopback address where nothing listens: a port bound, then released (for "unreachable" cases). */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('no address for a listening server');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${addr.port}`;
}
