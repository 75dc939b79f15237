/**
 * The reply half of RESP: reply values and their encodings in RESP2 and RESP3.
 *
 * A command answers a {@link Reply}; the connection encodes it in the protocol the client chose
 * with HELLO (2 until then). RESP3-only types degrade in RESP2 the way Redis degrades them: a map
 * becomes a flat array of keys and values, a set an array, null `$-1` (or `*-1` for a null
 * array), a boolean `:1`/`:0`, a double a bulk string, a verbatim string a bulk string.
 *
 * Pre-encoded replies that read the same in both protocols (`+OK`, `:1`, ...) are plain Buffers
 * ({@link OK}, {@link intReply}): the hot path writes them without building an object.
 */

/** A reply value; see the module comment. */
export type Reply =
  | Buffer
  | { readonly type: 'simple'; readonly text: string }
  | { readonly type: 'error'; readonly text: string }
  | { readonly type: 'int'; readonly value: number | bigint }
  | { readonly type: 'bulk'; readonly value: Uint8Array | string }
  | { readonly type: 'null' }
  | { readonly type: 'nullArray' }
  | { readonly type: 'array'; readonly items: readonly Reply[] }
  | { readonly type: 'set'; readonly items: readonly Reply[] }
  | { readonly type: 'map'; readonly entries: readonly (readonly [Reply, Reply])[] }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'double'; readonly value: number }
  | { readonly type: 'verbatim'; readonly format: string; readonly text: string };

/** The protocol versions HELLO chooses between. */
export type Protocol = 2 | 3;

export const OK: Buffer = Buffer.from('+OK\r\n');
export const PONG: Buffer = Buffer.from('+PONG\r\n');
export const NULL: Reply = { type: 'null' };
const SMALL_INTS: Buffer[] = Array.from({ length: 32 }, (_, i) => Buffer.from(`:${i - 1}\r\n`));

/** An integer reply (`:n`); small ones are shared buffers. */
export function intReply(value: number | bigint): Reply {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -1 && value < 31)
    return SMALL_INTS[value + 1]!;
  return { type: 'int', value };
}

/** A bulk string reply. */
export function bulk(value: Uint8Array | string): Reply {
  return { type: 'bulk', value };
}

/** A simple string reply (`+text`); `text` must not hold CR or LF. */
export function simple(text: string): Reply {
  return { type: 'simple', text };
}

/**
 * An error reply (`-CODE message`); `text` starts with its code word. CR and LF become spaces, as
 * Redis does, so an error can never break the framing.
 */
export function errorReply(text: string): Reply {
  return { type: 'error', text: text.replace(/[\r\n]/g, ' ') };
}

/** An array reply. */
export function array(items: readonly Reply[]): Reply {
  return { type: 'array', items };
}

/** A map reply (a flat array in RESP2). */
export function map(entries: readonly (readonly [Reply, Reply])[]): Reply {
  return { type: 'map', entries };
}

/**
 * Bytes of one output slab: batches are carved from it, so a flush rarely allocates. Redis keeps
 * a 16 KiB reply buffer per client too; a connection holds at most one slab between batches.
 */
const SLAB_BYTES = 16 * 1024;
/** A slab with less room than this left is dropped after a batch (the next write takes a new one). */
const MIN_ROOM_BYTES = 1024;
const NO_SLAB = Buffer.alloc(0);

/**
 * Appends encoded replies into one growing buffer, so a batch of pipelined replies leaves in one
 * socket write. Batches are carved one after another from a slab ({@link take} hands out a view
 * and the next batch starts after it), so many small flushes cost one allocation per slab.
 */
export class ReplyBuffer {
  private buf: Buffer;
  /** Where the current batch starts in `buf`; bytes before it belong to batches already taken. */
  private start = 0;
  private len = 0;

  /** @param initialBytes - the first slab's size; default none until the first write */
  constructor(initialBytes = 0) {
    this.buf = initialBytes === 0 ? NO_SLAB : Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes appended since the last {@link take}. */
  get length(): number {
    return this.len - this.start;
  }

  /** The appended bytes; later writes never touch them (they may still sit in a socket's queue). */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.len);
    if (this.buf.length - this.len < MIN_ROOM_BYTES) {
      this.buf = NO_SLAB;
      this.len = 0;
    }
    this.start = this.len;
    return out;
  }

  /** Appends `reply` in protocol `proto`. */
  write(reply: Reply, proto: Protocol): void {
    if (Buffer.isBuffer(reply)) {
      this.bytes(reply);
      return;
    }
    switch (reply.type) {
      case 'simple':
        this.ascii(`+${reply.text}\r\n`);
        return;
      case 'error':
        this.utf8(`-${reply.text}\r\n`);
        return;
      case 'int':
        this.ascii(`:${reply.value}\r\n`);
        return;
      case 'bulk':
        this.bulk(reply.value);
        return;
      case 'null':
        this.ascii(proto === 3 ? '_\r\n' : '$-1\r\n');
        return;
      case 'nullArray':
        this.ascii(proto === 3 ? '_\r\n' : '*-1\r\n');
        return;
      case 'array':
      case 'set':
        this.ascii(`${proto === 3 && reply.type === 'set' ? '~' : '*'}${reply.items.length}\r\n`);
        for (const item of reply.items) this.write(item, proto);
        return;
      case 'map':
        this.ascii(proto === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`);
        for (const [k, v] of reply.entries) {
          this.write(k, proto);
          this.write(v, proto);
        }
        return;
      case 'bool':
        this.ascii(proto === 3 ? (reply.value ? '#t\r\n' : '#f\r\n') : reply.value ? ':1\r\n' : ':0\r\n');
        return;
      case 'double':
        if (proto === 3) this.ascii(`,${formatDouble(reply.value)}\r\n`);
        else this.bulk(formatDouble(reply.value));
        return;
      case 'verbatim':
        if (proto === 3) {
          const body = Buffer.from(`${reply.format.slice(0, 3).padEnd(3, ' ')}:${reply.text}`, 'utf8');
          this.ascii(`=${body.length}\r\n`);
          this.bytes(body);
          this.ascii('\r\n');
        } else this.bulk(reply.text);
        return;
    }
  }

  private bulk(value: Uint8Array | string): void {
    if (typeof value === 'string') {
      const n = Buffer.byteLength(value, 'utf8');
      this.ascii(`$${n}\r\n`);
      this.reserve(n + 2);
      this.len += this.buf.write(value, this.len, 'utf8');
      this.ascii('\r\n');
      return;
    }
    this.ascii(`$${value.length}\r\n`);
    this.bytes(value);
    this.ascii('\r\n');
  }

  /** Makes room for `extra` bytes, moving the current batch (only) to a new slab when needed. */
  private reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const used = this.len - this.start;
    let size = SLAB_BYTES;
    while (size < used + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.len);
    this.buf = next;
    this.start = 0;
    this.len = used;
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    this.len += this.buf.write(text, this.len, 'latin1');
  }

  private utf8(text: string): void {
    this.reserve(Buffer.byteLength(text, 'utf8'));
    this.len += this.buf.write(text, this.len, 'utf8');
  }

  private bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

/** A double as Redis writes it: `inf`, `-inf`, `nan`, else the shortest round-trip form. */
function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return String(value);
}

/** Encodes one reply on its own (tests, and the rare reply written outside a batch). */
export function encodeReply(reply: Reply, proto: Protocol): Buffer {
  const out = new ReplyBuffer();
  out.write(reply, proto);
  return out.take();
}
