import { connect, type Socket } from 'node:net';

/**
 * A minimal Redis-protocol client for `cairn kv get|set|del|scan`: one connection, commands sent
 * as RESP2 arrays of bulk strings, replies parsed in order. The CLI needs a handful of calls, not a
 * client library (the `cairn/kv` client, with routing and retries, is for programs).
 *
 * Bounded: a reply may hold at most `maxReplyBytes` (a value is at most 4 MiB in the store) and
 * nest at most `maxDepth` arrays; anything else from the server is a protocol error that closes
 * the connection. Every call has a deadline.
 */

/** Limits of {@link RespClient}. */
export const KV_RESP_CLIENT_LIMITS = Object.freeze({
  /** Bytes buffered for one reply: the store's largest value (4 MiB) plus a scan page's keys, with room. */
  maxReplyBytes: 16 * 1024 * 1024,
  /** Nesting of arrays in a reply: the CLI's commands answer flat arrays or SCAN's pair. */
  maxDepth: 4,
  /** Items in one array reply: a SCAN page holds at most a few thousand keys. */
  maxArrayItems: 1_000_000,
});

/** One RESP reply. */
export type RespReply =
  | { readonly type: 'simple'; readonly value: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'integer'; readonly value: bigint }
  | { readonly type: 'bulk'; readonly value: Buffer | null }
  | { readonly type: 'array'; readonly items: RespReply[] | null };

/** A malformed answer from the server. */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}

const INCOMPLETE = Symbol('incomplete');

/** Encodes one command as a RESP2 array of bulk strings. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply at the start of `buffer`: the reply and the bytes it took, or undefined when
 * the buffer does not hold a whole reply yet.
 *
 * @throws RespProtocolError for anything that is not RESP2 (or RESP3's scalar types) within limits
 */
export function parseReply(buffer: Buffer): { reply: RespReply; length: number } | undefined {
  try {
    const [reply, end] = parseAt(buffer, 0, 0);
    return { reply, length: end };
  } catch (err) {
    if (err === INCOMPLETE) return undefined;
    throw err;
  }
}

function lineAt(buffer: Buffer, start: number): [string, number] {
  const cr = buffer.indexOf('\r\n', start);
  if (cr < 0) {
    if (buffer.length - start > 64 * 1024) throw new RespProtocolError('a reply line is over 64 KiB');
    throw INCOMPLETE;
  }
  return [buffer.toString('utf8', start, cr), cr + 2];
}

function integer(text: string): bigint {
  if (!/^-?\d{1,20}$/.test(text))
    throw new RespProtocolError(`not an integer: ${JSON.stringify(text.slice(0, 40))}`);
  return BigInt(text);
}

function parseAt(buffer: Buffer, start: number, depth: number): [RespReply, number] {
  if (start >= buffer.length) throw INCOMPLETE;
  const kind = String.fromCharCode(buffer[start]!);
  const [text, next] = lineAt(buffer, start + 1);
  switch (kind) {
    case '+':
      return [{ type: 'simple', value: text }, next];
    case '-':
      return [{ type: 'error', message: text }, next];
    case ':':
      return [{ type: 'integer', value: integer(text) }, next];
    case '_':
      return [{ type: 'bulk', value: null }, next];
    case '$': {
      const n = Number(integer(text));
      if (n === -1) return [{ type: 'bulk', value: null }, next];
      if (n < 0 || n > KV_RESP_CLIENT_LIMITS.maxReplyBytes)
        throw new RespProtocolError(`bulk length ${n} is out of bounds`);
      if (buffer.length < next + n + 2) throw INCOMPLETE;
      if (buffer[next + n] !== 13 || buffer[next + n + 1] !== 10)
        throw new RespProtocolError('a bulk string does not end with CR LF');
      return [{ type: 'bulk', value: Buffer.from(buffer.subarray(next, next + n)) }, next + n + 2];
    }
    case '*': {
      const n = Number(integer(text));
      if (n === -1) return [{ type: 'array', items: null }, next];
      if (n < 0 || n > KV_RESP_CLIENT_LIMITS.maxArrayItems)
        throw new RespProtocolError(`array length ${n} is out of bounds`);
      if (depth >= KV_RESP_CLIENT_LIMITS.maxDepth) throw new RespProtocolError('arrays nest too deep');
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const [item, end] = parseAt(buffer, at, depth + 1);
        items.push(item);
        at = end;
      }
      return [{ type: 'array', items }, at];
    }
    default:
      throw new RespProtocolError(`unknown reply type ${JSON.stringify(kind)}`);
  }
}

/** A connection to one node's RESP port. */
export class RespClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: { resolve: (r: RespReply) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the node closed the connection')));
  }

  /**
   * Connects to `host:port`.
   *
   * @throws Error naming the address when it cannot connect within `timeoutMs`
   */
  static open(host: string, port: number, timeoutMs: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespClient(socket, timeoutMs));
      });
    });
  }

  /** Sends one command and resolves with its reply (an error reply is a reply, not a rejection). */
  call(args: readonly (string | Uint8Array)[]): Promise<RespReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.push({
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(encodeCommand(args));
    });
  }

  /** Closes the connection. */
  close(): void {
    this.failure ??= new Error('the connection is closed');
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      for (;;) {
        const parsed = parseReply(this.buffer);
        if (parsed === undefined) break;
        this.buffer = this.buffer.subarray(parsed.length);
        const waiter = this.waiting.shift();
        if (waiter === undefined) throw new RespProtocolError('a reply came that no command asked for');
        waiter.resolve(parsed.reply);
      }
      if (this.buffer.length > KV_RESP_CLIENT_LIMITS.maxReplyBytes + 64 * 1024)
        throw new RespProtocolError('a reply is over the client limit');
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    this.socket.destroy();
  }
}
