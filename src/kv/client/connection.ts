import { connect, type Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { KvError } from '../errors.js';
import { errorFromReply, UnsentError } from './errors.js';
import { type Reply, ReplyError, type ReplyLimits, ReplyReader } from './reply-reader.js';

/**
 * One client connection to a node's Redis-protocol port: pipelined commands, replies matched in
 * order.
 *
 * Contract:
 * - {@link ClientConnection.open} connects and runs the setup commands (AUTH, CAIRN CONSISTENCY)
 *   before anything else; an error reply to one of them fails the open (mapped to a KvError).
 * - {@link ClientConnection.send} writes one command at once (writes of one event-loop turn leave
 *   in one batch) and resolves with its reply, error replies included: the caller maps them.
 *   Callers keep `inFlight` under their limit; the connection does not queue.
 * - When the socket closes, fails, or the server breaks the framing, every unanswered command
 *   rejects with KvError TIMEOUT ("may or may not have run"), a command sent on a closed
 *   connection with {@link UnsentError}, and `onClose` runs once.
 * - {@link ClientConnection.destroy} is how a caller gives up on a connection (a reply overdue).
 */

/** An argument of a command: text is sent as UTF-8. */
export type CommandArg = string | Uint8Array;

/** Options of {@link ClientConnection.open}. */
export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Names the node in errors: `node a at 127.0.0.1:7001`. */
  readonly label: string;
  readonly connectTimeoutMs: number;
  /** Commands run before any other, each of which must not answer an error. */
  readonly setup: readonly (readonly CommandArg[])[];
  readonly limits: ReplyLimits;
  readonly clock: Clock;
  /** Called once when the connection is closed for any reason. */
  readonly onClose?: (connection: ClientConnection) => void;
}

interface Waiter {
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

const CRLF = Buffer.from('\r\n');

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The RESP encoding of one command: a multibulk array of bulk strings. */
export function encodeCommand(args: readonly CommandArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const bytes =
      typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** A pipelined connection; see the module comment. */
export class ClientConnection {
  private readonly waiters: Waiter[] = [];
  private readonly reader: ReplyReader;
  private closed = false;
  private corked = false;
  private closeReason = 'closed';

  private constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.reader = new ReplyReader(options.limits);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(`failed: ${err.message}`));
    socket.on('close', () => this.shutdown('closed by the server'));
  }

  /**
   * Connects to `host:port` and runs `setup`.
   *
   * @throws UnsentError when the node cannot be reached in `connectTimeoutMs`; the KvError of a
   *   setup command's error reply (DENIED for a refused token)
   */
  static open(options: ConnectionOptions): Promise<ClientConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port, noDelay: true });
      const timer = options.clock.setTimer(options.connectTimeoutMs, () => {
        socket.destroy();
        reject(
          new UnsentError(`${options.label} did not accept a connection in ${options.connectTimeoutMs} ms`),
        );
      });
      const onError = (err: Error) => {
        options.clock.cancel(timer);
        reject(new UnsentError(`cannot connect to ${options.label}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        options.clock.cancel(timer);
        socket.off('error', onError);
        const connection = new ClientConnection(socket, options);
        connection.runSetup().then(
          () => resolve(connection),
          (err: unknown) => {
            connection.destroy('setup failed');
            // A refused token or a bad level is the caller's to fix; anything else (the server
            // closed at once, at its connection limit) means no command of the caller ran.
            const final =
              err instanceof KvError && (err.code === 'DENIED' || err.code === 'INVALID_ARGUMENT');
            reject(
              final
                ? err
                : new UnsentError(`cannot set up a connection to ${options.label}: ${describe(err)}`, {
                    cause: err,
                  }),
            );
          },
        );
      });
    });
  }

  /** Commands sent and not yet answered. */
  get inFlight(): number {
    return this.waiters.length;
  }

  /** False once closed: no command may be sent. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends one command; resolves with its reply (an error reply is a {@link ReplyError} value). */
  send(args: readonly CommandArg[]): Promise<Reply> {
    if (this.closed)
      return Promise.reject(
        new UnsentError(`the connection to ${this.options.label} is ${this.closeReason}`),
      );
    const frame = encodeCommand(args);
    return new Promise<Reply>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.corked) {
        // Commands issued in one turn leave in one write (Node's writev of corked chunks).
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(frame);
    });
  }

  /** Closes the connection; unanswered commands reject with TIMEOUT citing `reason`. */
  destroy(reason: string): void {
    this.shutdown(reason);
  }

  private async runSetup(): Promise<void> {
    const replies = await Promise.all(this.options.setup.map((c) => this.send(c)));
    for (const r of replies) if (r instanceof ReplyError) throw errorFromReply(r, this.options.label);
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    for (;;) {
      const reply = this.reader.next();
      if (reply === undefined) return;
      if (reply !== null && typeof reply === 'object' && 'protocolError' in reply) {
        this.shutdown(`broken: ${reply.protocolError}`);
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter === undefined) {
        this.shutdown('broken: a reply arrived that no command asked for');
        return;
      }
      waiter.resolve(reply);
    }
  }

  private shutdown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.socket.destroy();
    const waiters = this.waiters.splice(0);
    for (const w of waiters)
      w.reject(
        new KvError(
          'TIMEOUT',
          `the connection to ${this.options.label} ${reason} before the command was answered; it may or may not have run`,
        ),
      );
    this.options.onClose?.(this);
  }
}
