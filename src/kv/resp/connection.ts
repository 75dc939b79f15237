import type { Socket } from 'node:net';
import type { CommandContext, CommandSpec, ServerContext, Session } from './commands/context.js';
import { errorFor, execute, orderingOf, specOf } from './commands/table.js';
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

/** A command in flight on some keys; `waiters` run (each on its own microtask) once it answered. */
interface Gate {
  done: boolean;
  /** Its keys as sent. */
  readonly keys: readonly Buffer[];
  /** Its keys as `lastOnKey` names them, made when the gate is first indexed there. */
  ids: readonly string[] | undefined;
  readonly waiters: (() => void)[];
}

/** Keys as `lastOnKey` names them (latin1: one char per byte). */
function keyIds(keys: readonly Buffer[]): string[] {
  const ids: string[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) ids[i] = keys[i]!.toString('latin1');
  return ids;
}

/** Drives one socket; created by the server for each accepted connection. */
export class RespConnection {
  private readonly parser: RespParser;
  private readonly queue: Slot[] = [];
  /**
   * Per key (latin1), the gate of the last command in flight that touches it: a later command on
   * the same key starts after it, so `SET k v; GET k` in one pipeline reads `v`. Commands on
   * different keys still run concurrently. (Plain records rather than promises: one per command.)
   */
  private readonly lastOnKey = new Map<string, Gate>();
  /**
   * The gates of the keyed commands in flight, in arrival order. `lastOnKey` is kept only while a
   * command arrived with others in flight (`indexed`): a client with one command at a time (most,
   * and every non-pipelined benchmark) never has its keys turned into strings.
   */
  private readonly pending = new Set<Gate>();
  private indexed = false;
  private head = 0;
  private readonly out = new ReplyBuffer();
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();
  private readPaused = false;
  private waitingForDrain = false;
  /** No more commands are taken: a close was asked for (QUIT, protocol error, server close). */
  private ending = false;
  private closed = false;
  /** When the socket last carried bytes either way (the server's clock), for {@link closeIfIdle}. */
  private lastActiveAt: number;
  /** What every command of this connection runs with: the same two objects for each, so one record. */
  private readonly ctx: CommandContext;

  constructor(
    private readonly socket: Socket,
    private readonly server: ServerContext,
    readonly session: Session,
  ) {
    this.lastActiveAt = server.clock.now();
    this.ctx = { server, session };
    this.parser = new RespParser(server.limits);
    this.parser.authenticated = session.authenticated;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.waitingForDrain = false;
      this.updateReading();
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

  /**
   * Closes the connection when it has been idle (nothing received or written, no command in
   * flight) for `idleMs` as of `now` (the server's clock); the server sweeps its connections with
   * this rather than arming a socket timeout, which Node re-arms on every read and write.
   */
  closeIfIdle(now: number, idleMs: number): void {
    if (this.inFlight === 0 && now - this.lastActiveAt >= idleMs) this.socket.destroy();
  }

  /** Stops taking commands and closes once the replies owed are written. */
  end(): void {
    this.ending = true;
    if (this.inFlight === 0) this.finish();
  }

  private onData(chunk: Buffer): void {
    this.server.stats.bytesIn += chunk.length;
    // One reading per chunk: CLIENT LIST's idle needs seconds, not a clock call per command.
    const now = this.server.clock.now();
    this.lastActiveAt = now;
    if (this.ending) return;
    this.session.lastCommandAt = now;
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
    const spec = specOf(args[0]!);
    const order = orderingOf(spec, args);
    if (order === undefined || this.pending.size === 0) {
      this.start(spec, args, slot, order);
      return;
    }
    if (!this.indexed) this.index();
    const ids = order === 'all' ? undefined : keyIds(order);
    const before = this.inFlightOn(ids);
    if (before === undefined) {
      this.start(spec, args, slot, order, undefined, ids);
      return;
    }
    // Registered now, before it starts, so that a later command on these keys waits for it too.
    // (A whole-keyspace command is not waited on: its gate only marks it as started late.)
    const gate = order === 'all' ? { done: false, keys: [], ids: [], waiters: [] } : this.track(order, ids);
    let waiting = before.length;
    const go = (): void => {
      if (--waiting === 0) this.start(spec, args, slot, undefined, gate);
    };
    for (const g of before) g.waiters.push(go);
  }

  /** Puts every pending gate's keys in `lastOnKey`, in arrival order (the last one on a key wins). */
  private index(): void {
    for (const g of this.pending) {
      g.ids ??= keyIds(g.keys);
      for (const id of g.ids) this.lastOnKey.set(id, g);
    }
    this.indexed = true;
  }

  /**
   * The unanswered commands a command on keys `ids` must wait for (undefined `ids`: one that reads
   * the whole keyspace, which waits for all); undefined when none. Needs `indexed`.
   */
  private inFlightOn(ids: readonly string[] | undefined): Gate[] | undefined {
    if (ids === undefined) return this.pending.size === 0 ? undefined : [...this.pending];
    let before: Gate[] | undefined;
    for (const id of ids) {
      const g = this.lastOnKey.get(id);
      if (g === undefined || g.done) continue;
      if (before === undefined) before = [];
      before.push(g);
    }
    return before;
  }

  /** A gate for a keyed command answering later, indexed at once when the connection is. */
  private track(keys: readonly Buffer[], ids?: readonly string[]): Gate {
    const gate: Gate = { done: false, keys, ids, waiters: [] };
    this.pending.add(gate);
    if (this.indexed) {
      gate.ids ??= keyIds(keys);
      for (const id of gate.ids) this.lastOnKey.set(id, gate);
    }
    return gate;
  }

  /** The command of `gate` answered: forget its keys, and let its waiters go on a later microtask. */
  private release(gate: Gate): void {
    gate.done = true;
    this.pending.delete(gate);
    if (gate.ids !== undefined)
      for (const k of gate.ids) if (this.lastOnKey.get(k) === gate) this.lastOnKey.delete(k);
    if (this.pending.size === 0) this.indexed = false;
    for (const w of gate.waiters) queueMicrotask(w);
  }

  /**
   * Dispatches one command into its reply slot. `order`: its keys, to track when it answers later
   * (undefined when already tracked, or keyless); `gate`: released once it answered; `ids`: its
   * keys' strings when already made.
   */
  private start(
    spec: CommandSpec | undefined,
    args: Buffer[],
    slot: Slot,
    order: Buffer[] | 'all' | undefined,
    gate?: Gate,
    ids?: readonly string[],
  ): void {
    const session = this.session;
    const ctx = this.ctx;
    const result = execute(ctx, spec, args);
    slot.proto = session.proto;
    this.parser.authenticated = session.authenticated;
    if (session.closeAfterReply) {
      slot.close = true;
      this.ending = true;
    }
    if (result instanceof Promise) {
      const finished = gate ?? (order !== undefined && order !== 'all' ? this.track(order, ids) : undefined);
      const answer = (reply: Reply): void => {
        slot.reply = reply;
        if (finished !== undefined) this.release(finished);
        this.pump();
      };
      result.then(answer, (err: unknown) => answer(errorFor(err, ctx)));
    } else {
      slot.reply = result;
      // A deferred command that answered at once: its reply may complete the queue's prefix.
      if (gate !== undefined) {
        this.release(gate);
        this.pump();
      }
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
      setImmediate(this.flushBound);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.out.length === 0) return;
    const bytes = this.out.take();
    this.server.stats.bytesOut += bytes.length;
    this.lastActiveAt = this.server.clock.now();
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
