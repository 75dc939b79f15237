import type { Socket } from 'node:net';
import type { ServerContext, Session } from './commands/context.js';
import { dispatch, orderingOf } from './commands/table.js';
import { RespParser } from './parser.js';
import { errorReply, type Protocol, type Reply, ReplyBuffer } from './reply.js';

/**
 * One client connection: parses its commands, runs them, and writes replies in request order.
 *
 * Contract:
 * - Replies leave in the order the commands arrived, whatever order the store answers them in
 *   (pipelining): each command takes a slot in a queue, and only the completed prefix of the queue
 *   is written.
 * - Replies completed in one turn of the event loop leave in one socket write.
 * - At most `maxInFlightPerConnection` commands run at once; past it, and while more than
 *   `maxPendingReplyBytes` of replies wait in the socket, the connection takes no new command and
 *   stops reading (the kernel's TCP window then slows the client). Unparsed input stays in the
 *   parser meanwhile. Replies held are thus at most maxPendingReplyBytes plus the replies of the
 *   commands already in flight (at most maxInFlightPerConnection, each one value at most).
 * - A protocol error is answered after every earlier reply, then the connection closes; so does
 *   QUIT after its OK. No input makes this throw.
 */

/** Encoded replies at least this large are written at once instead of at the end of the turn. */
const FLUSH_NOW_BYTES = 64 * 1024;

interface Slot {
  reply: Reply | undefined;
  /** The protocol to encode in: the session's right after the command ran (HELLO's own reply is in its new one). */
  proto: Protocol;
  /** Close the connection once this reply is written (QUIT, protocol errors). */
  close: boolean;
}

/** Drives one socket; created by the server for each accepted connection. */
export class RespConnection {
  private readonly parser: RespParser;
  private readonly queue: Slot[] = [];
  /**
   * Per key (latin1), the completion of the last command in flight that touches it: a later
   * command on the same key starts after it, so `SET k v; GET k` in one pipeline reads `v`.
   * Commands on different keys still run concurrently.
   */
  private readonly lastOnKey = new Map<string, Promise<void>>();
  private head = 0;
  private readonly out = new ReplyBuffer();
  private flushScheduled = false;
  private readPaused = false;
  private waitingForDrain = false;
  /** No more commands are taken: a close was asked for (QUIT, protocol error, server close). */
  private ending = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly server: ServerContext,
    readonly session: Session,
  ) {
    this.parser = new RespParser(server.limits);
    this.parser.authenticated = session.authenticated;
    socket.setNoDelay(true);
    socket.setTimeout(server.limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.waitingForDrain = false;
      this.updateReading();
    });
    socket.on('timeout', () => {
      if (this.inFlight === 0) socket.destroy();
    });
    socket.on('error', () => {
      // 'close' follows; a reset by the client is not the server's error.
    });
    socket.on('close', () => {
      this.closed = true;
      this.ending = true;
    });
  }

  /** Commands taken and not yet written. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /** Stops taking commands and closes once the replies owed are written. */
  end(): void {
    this.ending = true;
    if (this.inFlight === 0) this.finish();
  }

  private onData(chunk: Buffer): void {
    this.server.stats.bytesIn += chunk.length;
    if (this.ending) return;
    // One reading per chunk: CLIENT LIST's idle needs seconds, not a clock call per command.
    this.session.lastCommandAt = this.server.clock.now();
    this.parser.push(chunk);
    this.pump();
  }

  /** Takes parsed commands while there is room. */
  private pump(): void {
    const max = this.server.limits.maxInFlightPerConnection;
    const maxPending = this.server.limits.maxPendingReplyBytes;
    while (!this.ending && this.inFlight < max && !this.waitingForDrain && this.out.length < maxPending) {
      const cmd = this.parser.next();
      if (cmd === undefined) break;
      if (!Array.isArray(cmd)) {
        this.server.stats.protocolErrors++;
        this.ending = true;
        this.queue.push({
          reply: errorReply(`ERR Protocol error: ${cmd.protocolError}`),
          proto: this.session.proto,
          close: true,
        });
        break;
      }
      this.run(cmd);
    }
    this.drain();
    this.updateReading();
  }

  private run(args: Buffer[]): void {
    this.server.stats.commandsProcessed++;
    const slot: Slot = { reply: undefined, proto: this.session.proto, close: false };
    this.queue.push(slot);
    const order = orderingOf(args);
    const before: Promise<void>[] = [];
    if (order === 'all') before.push(...this.lastOnKey.values());
    else if (order !== undefined) {
      for (const key of order) {
        const p = this.lastOnKey.get(key.toString('latin1'));
        if (p !== undefined) before.push(p);
      }
    }
    if (before.length === 0) {
      this.start(args, slot, order);
      return;
    }
    // Registered now, before it starts, so that a later command on these keys waits for it too.
    let replied!: () => void;
    this.track(order, new Promise<void>((resolve) => (replied = resolve)));
    void Promise.all(before).then(() => this.start(args, slot, undefined, replied));
  }

  /** Records `finished` as the last command on each of `order`'s keys (none for `'all'`). */
  private track(order: Buffer[] | 'all' | undefined, finished: Promise<void>): void {
    if (order === undefined || order === 'all') return;
    for (const key of order) {
      const k = key.toString('latin1');
      this.lastOnKey.set(k, finished);
      void finished.then(() => {
        if (this.lastOnKey.get(k) === finished) this.lastOnKey.delete(k);
      });
    }
  }

  /**
   * Dispatches one command into its reply slot. `order`: keys to register as in flight when the
   * command answers later (undefined when already registered); `replied`: called once it answered.
   */
  private start(args: Buffer[], slot: Slot, order: Buffer[] | 'all' | undefined, replied?: () => void): void {
    const session = this.session;
    const result = dispatch({ server: this.server, session }, args);
    slot.proto = session.proto;
    this.parser.authenticated = session.authenticated;
    if (session.closeAfterReply) {
      slot.close = true;
      this.ending = true;
    }
    if (result instanceof Promise) {
      let finished = replied;
      if (finished === undefined && order !== undefined && order !== 'all') {
        this.track(order, new Promise<void>((resolve) => (finished = resolve)));
      }
      result.then((reply) => {
        slot.reply = reply;
        finished?.();
        this.pump();
      });
    } else {
      slot.reply = result;
      replied?.();
      // A deferred command that answered at once: its reply may complete the queue's prefix.
      if (replied !== undefined) this.pump();
    }
  }

  /** Encodes the completed prefix of the queue and schedules a flush. */
  private drain(): void {
    if (this.closed) return;
    let closeAfter = false;
    while (this.head < this.queue.length) {
      const slot = this.queue[this.head]!;
      if (slot.reply === undefined) break;
      if (!Buffer.isBuffer(slot.reply) && slot.reply.type === 'error') this.server.stats.errorReplies++;
      this.out.write(slot.reply, slot.proto);
      this.head++;
      if (slot.close) {
        closeAfter = true;
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (closeAfter) {
      this.flush();
      this.finish();
      return;
    }
    // Large replies leave at once rather than piling up until the end of the turn.
    if (this.out.length >= FLUSH_NOW_BYTES) this.flush();
    else if (this.out.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.out.length === 0) return;
    const bytes = this.out.take();
    this.server.stats.bytesOut += bytes.length;
    this.socket.write(bytes);
    // 'drain' comes only after a write past the socket's highWaterMark, so wait only when one is due.
    if (this.socket.writableLength > this.server.limits.maxPendingReplyBytes && this.socket.writableNeedDrain)
      this.waitingForDrain = true;
    this.updateReading();
    if (this.ending && this.inFlight === 0) this.finish();
  }

  private finish(): void {
    this.ending = true;
    if (this.closed) return;
    this.socket.end();
    this.closed = true;
  }

  private updateReading(): void {
    if (this.closed) return;
    const shouldPause = this.waitingForDrain || this.inFlight >= this.server.limits.maxInFlightPerConnection;
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.server.stats.readPauses++;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
      // Commands left in the parser while paused run now.
      queueMicrotask(() => this.pump());
    }
  }
}
