import { type Clock, describeError, type Logger, type TimerHandle, takeBytes } from '../core/index.js';
import type { SignatureScheme, SignedRecord } from '../security/index.js';
import type { Address, Stream, Transport } from '../transport/types.js';
import {
  decodeStateMessage,
  encodeStateMessage,
  type ScuttlebuttState,
  type StateEvent,
} from './state/index.js';
import { openAliveValue, type VerifiedAlive } from './swim/index.js';
import { compareSummary, MemberSummary, type MemberVisitor, writeSummary } from './sync-summary.js';
import { encodeSyncFrame, type SyncFrame, syncFrameDecoder, WIRE_LIMITS } from './wire.js';

/**
 * Push-pull: a full state exchange over a stream, used to join and, periodically, as a backstop for
 * anything gossip missed (memberlist's push-pull, with Scuttlebutt's three messages inside).
 *
 * Exchange (each step one frame; see `SyncFrame`):
 * 1. dialer -> listener `push`: a summary of every member the dialer knows (25 bytes each,
 *    `sync-summary.ts`), its own alive record, and a Scuttlebutt `Syn`;
 * 2. listener -> dialer `pull`: the alive records the dialer lacks or holds older, the summary
 *    entries the listener lacks or holds older, and the `SynAck` (digest and delta);
 * 3. dialer -> listener `done`: the alive records asked for and the `Ack`. Both close.
 * Only what one side lacks travels, so the cost of a sync between nodes that mostly agree is the
 * summary, not every record (memberlist sends every record both ways). Deltas here are bounded by
 * {@link SYNC_STATE_BYTES}, not the MTU, so one exchange moves much more than a gossip round.
 * Every alive record is verified before the SWIM core sees it; a record that fails is counted and
 * skipped, the rest of the frame still applies. A malformed frame or summary, or a timeout, ends
 * the exchange (the dialer reports failure), never throws.
 */

/** Budget of the Scuttlebutt part of one sync frame: a large delta, still far below a frame limit. */
export const SYNC_STATE_BYTES = 1024 * 1024;
/** Largest sync frame accepted: the state budget plus 16,384 alive records of ~200 bytes. */
export const SYNC_FRAME_BYTES = SYNC_STATE_BYTES + 16_384 * 256;

/**
 * Push-pull deltas leave heartbeats out: every node beats every interval, so each sync would carry
 * one signed heartbeat per member; anti-entropy packets carry them (and feed the phi detector).
 */
const NO_HEARTBEATS = { heartbeats: false } as const;

/** Options of {@link SyncSession}. */
export interface SyncOptions {
  channel: Transport;
  state: ScuttlebuttState;
  scheme: SignatureScheme;
  clock: Clock;
  timeoutMs: number;
  /** Visits every member this node knows (this node included): summaries and records to offer. */
  members: MemberVisitor;
  /** This node's own current alive record. */
  selfAlive: () => SignedRecord;
  /** Receives the verified alive records of the peer. */
  onAlive: (alive: VerifiedAlive[]) => void;
  /** Receives the Scuttlebutt events of applied deltas. */
  onStateEvents: (events: StateEvent[]) => void;
  /**
   * Sees a dialer's summary before this node answers it, so that a death of this node it reports
   * can be refuted in the answer (`reconnect.ts`).
   */
  onPush?: (summary: MemberSummary) => void;
  logger: Logger;
}

/** Runs push-pull exchanges as dialer and answers them as listener. */
export class SyncSession {
  /** Alive records that failed verification. */
  rejected = 0;
  private readonly decode = syncFrameDecoder(SYNC_FRAME_BYTES);
  private readonly open = new Set<Stream>();
  private closed = false;

  constructor(private readonly o: SyncOptions) {
    o.channel.onStream((stream) => this.listen(stream));
  }

  /** One exchange with `address`; resolves true when it completed. */
  async run(address: Address): Promise<boolean> {
    if (this.closed) return false;
    let stream: Stream;
    try {
      stream = await this.o.channel.dial(address, { timeoutMs: this.o.timeoutMs });
    } catch (err) {
      this.o.logger.debug({ err: describeError(err), peer: address }, 'push-pull dial failed');
      return false;
    }
    this.open.add(stream);
    return new Promise<boolean>((resolve) => {
      const finish = this.finisher(stream, resolve);
      stream.onClose(() => finish(false));
      // The summary's bytes are a scratch view: the push frame below encodes them in this same step.
      const summary = writeSummary(this.o.members, WIRE_LIMITS.maxSyncMembers);
      stream.onFrame((bytes) => {
        const frame = this.decode(bytes);
        if (frame === undefined || frame.t !== 'pull') return finish(false);
        if (frame.want.some((j) => j >= summary.records.length)) return finish(false);
        const synAck = decodeStateMessage(frame.state);
        if (synAck === undefined || synAck.type !== 'SynAck') return finish(false);
        this.takeAlive(frame.alive);
        const step = this.o.state.handleSynAck(synAck, this.o.clock.now(), SYNC_STATE_BYTES, NO_HEARTBEATS);
        this.o.onStateEvents(step.events);
        const wanted = frame.want.map((j) => summary.records[j]!);
        this.safeSend(
          stream,
          step.reply === undefined
            ? { t: 'done', alive: wanted }
            : { t: 'done', alive: wanted, state: encodeStateMessage(step.reply) },
        );
        stream.close();
        finish(true);
      });
      this.safeSend(stream, {
        t: 'push',
        have: summary.bytes,
        alive: [this.o.selfAlive()],
        state: encodeStateMessage(this.o.state.createSyn(SYNC_STATE_BYTES)),
      });
    });
  }

  /** Ends every open exchange. */
  close(): void {
    this.closed = true;
    for (const stream of this.open) stream.destroy();
    this.open.clear();
  }

  private listen(stream: Stream): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.open.add(stream);
    const finish = this.finisher(stream, () => {});
    stream.onClose(() => finish(false));
    stream.onFrame((bytes) => {
      const frame = this.decode(bytes);
      if (frame === undefined) return finish(false);
      if (frame.t === 'push') {
        const message = decodeStateMessage(frame.state);
        const summary = MemberSummary.read(frame.have, WIRE_LIMITS.maxSyncMembers);
        if (message === undefined || message.type !== 'Syn' || summary === undefined) return finish(false);
        this.o.onPush?.(summary);
        // Compare before taking the dialer's own record: a record just taken would look like one
        // this node could give back.
        const { give, want } = compareSummary(summary, this.o.members, WIRE_LIMITS.maxSyncMembers);
        this.takeAlive(frame.alive);
        const step = this.o.state.handleSyn(message, this.o.clock.now(), SYNC_STATE_BYTES, NO_HEARTBEATS);
        this.o.onStateEvents(step.events);
        if (step.reply === undefined) return finish(false);
        this.safeSend(stream, { t: 'pull', alive: give, want, state: encodeStateMessage(step.reply) });
        return;
      }
      if (frame.t === 'done') {
        const message = frame.state === undefined ? undefined : decodeStateMessage(frame.state);
        if (frame.state !== undefined && (message === undefined || message.type !== 'Ack')) {
          return finish(false);
        }
        this.takeAlive(frame.alive);
        if (message !== undefined && message.type === 'Ack') {
          this.o.onStateEvents(this.o.state.handleAck(message, this.o.clock.now()).events);
        }
        stream.close();
        return finish(true);
      }
      finish(false);
    });
  }

  /** A once-only completion with a timeout on the clock. */
  private finisher(stream: Stream, resolve: (ok: boolean) => void): (ok: boolean) => void {
    let done = false;
    const timer: TimerHandle = this.o.clock.setTimer(this.o.timeoutMs, () => finish(false));
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.o.clock.cancel(timer);
      this.open.delete(stream);
      if (!ok) stream.destroy();
      resolve(ok);
    };
    return finish;
  }

  private takeAlive(records: readonly SignedRecord[]): void {
    const verified: VerifiedAlive[] = [];
    for (const record of records) {
      const opened = openAliveValue(record, this.o.scheme);
      if (opened !== undefined) verified.push(opened);
      else this.rejected++;
    }
    if (verified.length > 0) this.o.onAlive(verified);
  }

  private safeSend(stream: Stream, frame: SyncFrame): void {
    try {
      // Recyclable: sent once and not touched again; the simulated network reuses it once handled.
      stream.send(encodeSyncFrame(frame, takeBytes));
    } catch (err) {
      this.o.logger.debug({ err: describeError(err), peer: stream.remoteAddress }, 'push-pull send failed');
      stream.destroy();
    }
  }
}
