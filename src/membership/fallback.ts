import { type Clock, describeError } from '../core/index.js';
import type { NodeId } from '../security/index.js';
import type { Stream, Transport } from '../transport/types.js';
import {
  decodeSwimMessage,
  encodeSwimMessage,
  type SwimFallbackProbe,
  type SwimInput,
} from './swim/index.js';

/**
 * SWIM's TCP fallback probe (memberlist's `TCPFallbackProbe`): when a UDP probe goes unanswered, the
 * driver also pings the target over a stream, so a node whose UDP path is broken (a firewall, a
 * full socket buffer) is not declared dead while it still answers over TCP.
 *
 * On a stream of the SWIM channel the prober sends one `Ping` frame; the target answers with one
 * `Ack` frame and closes. The result is reported to the core as `fallback-ack` or
 * `fallback-failed`; a result after the probe's deadline is reported too, and the core ignores it.
 */
export class FallbackProber {
  private readonly open = new Set<Stream>();
  private closed = false;

  constructor(
    private readonly o: {
      channel: Transport;
      selfId: NodeId;
      clock: Clock;
      report: (input: SwimInput) => void;
    },
  ) {
    o.channel.onStream((stream) => this.answer(stream));
  }

  /** Starts one fallback probe. */
  probe(p: SwimFallbackProbe): void {
    if (this.closed) return;
    const timeoutMs = Math.max(1, p.deadlineMs - this.o.clock.now());
    let reported = false;
    const report = (ok: boolean) => {
      if (reported || this.closed) return;
      reported = true;
      this.o.report(ok ? { type: 'fallback-ack', seq: p.seq } : { type: 'fallback-failed', seq: p.seq });
    };
    void this.o.channel
      .dial(p.address, { timeoutMs })
      .then((stream) => {
        this.open.add(stream);
        const timer = this.o.clock.setTimer(timeoutMs, () => stream.destroy());
        stream.onClose(() => {
          this.o.clock.cancel(timer);
          this.open.delete(stream);
          report(false);
        });
        stream.onFrame((frame) => {
          const decoded = decodeSwimMessage(frame);
          const ok = decoded.ok && decoded.value.type === 'Ack' && decoded.value.seq === p.seq;
          report(ok);
          stream.close();
        });
        stream.send(encodeSwimMessage({ type: 'Ping', seq: p.seq, target: p.target, from: this.o.selfId }));
      })
      .catch(() => report(false));
  }

  /** Ends every open probe. */
  close(): void {
    this.closed = true;
    for (const stream of this.open) stream.destroy();
    this.open.clear();
  }

  private answer(stream: Stream): void {
    stream.onFrame((frame) => {
      const decoded = decodeSwimMessage(frame);
      if (!decoded.ok || decoded.value.type !== 'Ping' || decoded.value.target !== this.o.selfId) {
        stream.destroy();
        return;
      }
      try {
        stream.send(encodeSwimMessage({ type: 'Ack', seq: decoded.value.seq, from: this.o.selfId }));
        stream.close();
      } catch (err) {
        void describeError(err);
        stream.destroy();
      }
    });
  }
}
