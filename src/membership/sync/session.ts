import { type Clock, describeError, type Logger, type TimerHandle, takeBytes } from '../../core/index.js';
import type { SignatureScheme, SignedRecord } from '../../security/index.js';
import type { Address, Stream, Transport } from '../../transport/types.js';
import {
  decodeStateMessage,
  encodeStateMessage,
  type ScuttlebuttState,
  type StateEvent,
} from '../state/index.js';
import { memberKey, openAliveValue, type VerifiedAlive } from '../swim/index.js';
import type { CachingScheme } from '../verify-cache.js';
import { encodeSyncFrame, type SyncFrame, syncFrameDecoder, WIRE_LIMITS } from '../wire.js';
import { type PeerBudget, SYNC_BUDGET_LIMITS, SyncBudget } from './budget.js';
import { compareSummary, MemberSummary, type MemberVisitor, writeSummary } from './summary.js';

/**
 * Push-pull: a full state exchange over a stream, used to join and, periodically, as a backstop for
 * anything gossip missed (memberlist's push-pull, with Scuttlebutt's three messages inside).
 *
 * Exchange (each step one frame; see `SyncFrame`):
 * 1. dialer -> listener `push`: a summary of every member the dialer knows (25 bytes each,
 *    `summary.ts`), its own alive record, and a Scuttlebutt `Syn`;
 * 2. listener -> dialer `pull`: the alive records the dialer lacks or holds older, the summary
 *    entries the listener lacks or holds older, and the `SynAck` (digest and delta);
 * 3. dialer -> listener `done`: the alive records asked for and the `Ack`. Both close.
 * Only what one side lacks travels, so the cost of a sync between nodes that mostly agree is the
 * summary, not every record (memberlist sends every record both ways). Deltas here are bounded by
 * {@link SYNC_STATE_BYTES}, not the MTU, so one exchange moves much more than a gossip round.
 * Every alive record is verified before the SWIM core sees it; a record that fails is counted and
 * skipped, the rest of the frame still applies. A malformed frame or summary, or a timeout, ends
 * the exchange (the dialer reports failure), never throws.
 *
 * Phases, per stream (a peer is not trusted to follow them): the listener takes exactly one `push`
 * carrying exactly one alive record (the dialer's own), then exactly one `done` whose records are
 * the entries it asked for, in the order asked (`want`), each checked by its member key before
 * anything is verified; the dialer takes exactly one `pull` whose `want` names distinct entries of
 * its summary. Any other frame, a frame after the last, or a count over these closes the stream
 * and is counted (`protocolErrors`). Signature checks of a frame run under the peer's budget
 * (`budget.ts`): records over it are dropped unverified and counted (`overBudget`).
 */

/** Budget of the Scuttlebutt part of one sync frame: a large delta, still far below a frame limit. */
export const SYNC_STATE_BYTES = 1024 * 1024;
/** Largest sync frame accepted: the state budget plus 16,384 alive records of ~200 bytes. */
export const SYNC_FRAME_BYTES = SYNC_STATE_BYTES + 16_384 * 256;
/**
 * Summary entries a listener asks for in one exchange: what one peer's verification budget
 * (`budget.ts`) checks at once. More would be records decoded only to be dropped; the rest
 * comes by gossip and later syncs.
 */
export const SYNC_MAX_WANT = SYNC_BUDGET_LIMITS.perPeerBurst;

/**
 * Push-pull deltas leave heartbeats out: every node beats every interval, so each sync would carry
 * one signed heartbeat per member; anti-entropy packets carry them (and feed the phi detector).
 */
const NO_HEARTBEATS = { heartbeats: false } as const;

/** Options of {@link SyncSession}. */
export interface SyncOptions {
  channel: Transport;
  state: ScuttlebuttState;
  /** The node's scheme; a caching one is charged to each peer's budget (see `budget.ts`). */
  scheme: SignatureScheme | CachingScheme;
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
  /** Streams closed for a frame that is malformed, out of phase or over the counts of its phase. */
  protocolErrors = 0;
  /** Signature checks refused because the peer's (or the total) budget was spent. */
  get overBudget(): number {
    return this.skipped + (isCaching(this.o.scheme) ? this.o.scheme.stats.overBudget : 0);
  }
  /** Alive records not even opened: the rest of a frame once its peer's budget was spent. */
  private skipped = 0;
  private readonly decode = syncFrameDecoder(SYNC_FRAME_BYTES);
  private readonly open = new Set<Stream>();
  private readonly budget = new SyncBudget();
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
      let answered = false;
      stream.onFrame((bytes) => {
        // One pull, then nothing: the dialer closes after its done.
        if (answered) return this.outOfPhase(stream, finish);
        answered = true;
        const frame = this.decode(bytes);
        if (frame === undefined || frame.t !== 'pull' || !distinctBelow(frame.want, summary.records.length)) {
          return this.outOfPhase(stream, finish);
        }
        const synAck = decodeStateMessage(frame.state);
        if (synAck === undefined || synAck.type !== 'SynAck') return finish(false);
        const step = this.charged(stream, (budget) => {
          this.takeAlive(frame.alive, budget);
          return this.o.state.handleSynAck(synAck, this.o.clock.now(), SYNC_STATE_BYTES, NO_HEARTBEATS);
        });
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
    // The member keys of the summary entries asked for in the pull, in order; undefined until then.
    let wantKeys: number[] | undefined;
    let ended = false;
    stream.onFrame((bytes) => {
      if (ended) return this.outOfPhase(stream, finish);
      // Before the pull only a push with one record may come; after it, a done with what was asked.
      const frame = this.decode(bytes, wantKeys === undefined ? 1 : wantKeys.length);
      if (frame === undefined) return this.outOfPhase(stream, finish);
      if (frame.t === 'push' && wantKeys === undefined) {
        // The push carries the dialer's own alive record and nothing else.
        if (frame.alive.length !== 1) return this.outOfPhase(stream, finish);
        const message = decodeStateMessage(frame.state);
        const summary = MemberSummary.read(frame.have, WIRE_LIMITS.maxSyncMembers);
        if (message === undefined || message.type !== 'Syn' || summary === undefined) return finish(false);
        this.o.onPush?.(summary);
        // Compare before taking the dialer's own record: a record just taken would look like one
        // this node could give back.
        const compared = compareSummary(summary, this.o.members, WIRE_LIMITS.maxSyncMembers);
        const give = compared.give;
        const want =
          compared.want.length > SYNC_MAX_WANT ? compared.want.slice(0, SYNC_MAX_WANT) : compared.want;
        // Kept as keys: the summary is a view into this frame, which is the transport's again after.
        wantKeys = want.map((j) => summary.key(j));
        const step = this.charged(stream, (budget) => {
          this.takeAlive(frame.alive, budget);
          return this.o.state.handleSyn(message, this.o.clock.now(), SYNC_STATE_BYTES, NO_HEARTBEATS);
        });
        this.o.onStateEvents(step.events);
        if (step.reply === undefined) return finish(false);
        this.safeSend(stream, { t: 'pull', alive: give, want, state: encodeStateMessage(step.reply) });
        return;
      }
      if (frame.t === 'done' && wantKeys !== undefined) {
        ended = true;
        if (!answersWant(frame.alive, wantKeys)) return this.outOfPhase(stream, finish);
        const message = frame.state === undefined ? undefined : decodeStateMessage(frame.state);
        if (frame.state !== undefined && (message === undefined || message.type !== 'Ack')) {
          return finish(false);
        }
        const events = this.charged(stream, (budget) => {
          this.takeAlive(frame.alive, budget);
          return message !== undefined && message.type === 'Ack'
            ? this.o.state.handleAck(message, this.o.clock.now()).events
            : [];
        });
        this.o.onStateEvents(events);
        stream.close();
        return finish(true);
      }
      this.outOfPhase(stream, finish);
    });
  }

  /** A frame out of phase or over its phase's counts: counted, and the stream is closed. */
  private outOfPhase(stream: Stream, finish: (ok: boolean) => void): void {
    this.protocolErrors++;
    this.o.logger.debug({ peer: stream.remoteAddress }, 'push-pull frame out of phase');
    finish(false);
    stream.destroy();
  }

  /** Runs `work` with the signature checks it makes charged to the peer of `stream`. */
  private charged<T>(stream: Stream, work: (budget: PeerBudget | undefined) => T): T {
    const scheme = this.o.scheme;
    if (!isCaching(scheme)) return work(undefined);
    const budget = this.budget.of(stream.remoteAddress, this.o.clock.now());
    return scheme.charging(budget, () => work(budget));
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

  private takeAlive(records: readonly SignedRecord[], budget?: PeerBudget): void {
    const verified: VerifiedAlive[] = [];
    const refusedBefore = this.overBudget;
    let failed = 0;
    for (let i = 0; i < records.length; i++) {
      // Once the budget is spent the rest is dropped unopened: decoding and copying each record
      // only to refuse its check was most of the cost of a frame of forgeries.
      if (budget?.spent()) {
        this.skipped += records.length - i;
        failed += records.length - i;
        break;
      }
      const opened = openAliveValue(records[i]!, this.o.scheme);
      if (opened !== undefined) verified.push(opened);
      else failed++;
    }
    // Records refused for want of budget were not checked: counted there, not as rejected.
    this.rejected += failed - (this.overBudget - refusedBefore);
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

function isCaching(scheme: SignatureScheme | CachingScheme): scheme is CachingScheme {
  return 'charging' in scheme;
}

/** True when `indices` are distinct integers below `n` (a pull's `want` over a summary of `n`). */
function distinctBelow(indices: readonly number[], n: number): boolean {
  if (indices.length > n) return false;
  const seen = new Set<number>();
  for (const j of indices) {
    if (j >= n || seen.has(j)) return false;
    seen.add(j);
  }
  return true;
}

/**
 * True when `records` answer the entries asked for: at most one per wanted entry, in the order
 * asked, each of the member asked for (by key; a record is only verified after this check).
 */
function answersWant(records: readonly SignedRecord[], wantKeys: readonly number[]): boolean {
  if (records.length > wantKeys.length) return false;
  for (let i = 0; i < records.length; i++) {
    if (memberKey(records[i]!.node) !== wantKeys[i]) return false;
  }
  return true;
}
