import { createHash } from 'node:crypto';
import { CairnError, type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import type { Address, Stream, Transport } from '../../transport/types.js';
import type { Message, NodeId } from '../types.js';
import type { RaftNodeLimits } from './limits.js';
import { isStateMachineMarker } from './snapshot-marker.js';
import type { PeerStats } from './stats.js';
import { decodeSnapshotAck, encodeHello, type WireCodec } from './wire.js';

/** What a snapshot transfer needs from the driver. */
export interface SnapshotSendContext {
  readonly self: NodeId;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly codec: WireCodec;
  readonly limits: RaftNodeLimits;
  readonly stats: PeerStats;
  readonly logger: Logger;
  /** How long the dial may take (the peer streams' dial timeout). */
  readonly dialTimeoutMs: number;
}

/**
 * Sends one `snap` message to `address` on a stream of its own: the hello, a header (the message
 * without its data, the data's size and SHA-256), the data in chunks of `snapshotChunkBytes`
 * (waiting for the stream to drain between chunks), then waits for the receiver's ack.
 *
 * Resolves true when the receiver acknowledged a complete, checked snapshot; false on any failure
 * (dial, stream closed, negative ack, `snapshotTimeoutMs` elapsed, `signal` aborted). Never rejects.
 */
export async function sendSnapshot(
  ctx: SnapshotSendContext,
  m: Message,
  address: Address,
  signal: AbortSignal,
): Promise<boolean> {
  const data = m.snapshot?.data;
  // A metadata-only snapshot stands for state the receiver does not have: never sent.
  if (data === undefined || data.length > ctx.limits.maxSnapshotBytes || isStateMachineMarker(data)) {
    ctx.stats.snapshotsFailed++;
    return false;
  }
  let stream: Stream | undefined;
  let timer: TimerHandle | undefined;
  const abort = () => stream?.destroy(new CairnError('CANCELLED', 'snapshot transfer abandoned'));
  try {
    stream = await ctx.transport.dial(address, { signal, timeoutMs: ctx.dialTimeoutMs });
    const ack = waitForAck(stream);
    timer = ctx.clock.setTimer(ctx.limits.snapshotTimeoutMs, abort);
    signal.addEventListener('abort', abort, { once: true });
    const sum = new Uint8Array(createHash('sha256').update(data).digest());
    await stream.write(encodeHello({ from: ctx.self, to: m.to, kind: 'snap' }));
    await stream.write(ctx.codec.encodeSnapshotHeader(m, data.length, sum));
    for (let at = 0; at < data.length; at += ctx.limits.snapshotChunkBytes) {
      await stream.write(ctx.codec.encodeChunk(data.subarray(at, at + ctx.limits.snapshotChunkBytes)));
    }
    const ok = await ack;
    if (ok) ctx.stats.snapshotsSent++;
    else ctx.stats.snapshotsFailed++;
    return ok;
  } catch (err) {
    ctx.stats.snapshotsFailed++;
    ctx.logger.debug({ peer: m.to, err: describeError(err) }, 'raft: snapshot send failed');
    return false;
  } finally {
    if (timer !== undefined) ctx.clock.cancel(timer);
    signal.removeEventListener('abort', abort);
    stream?.close();
  }
}

function waitForAck(stream: Stream): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    stream.onFrame((frame) => {
      if (done) return;
      done = true;
      try {
        resolve(decodeSnapshotAck(frame));
      } catch {
        resolve(false);
      }
      stream.close();
    });
    stream.onClose(() => {
      if (!done) resolve(false);
      done = true;
    });
  });
}
