import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  H2Connection,
  type H2Settings,
  type H2Stream,
  type H2StreamListener,
  requestHeaders,
} from './connection.js';
import { CLIENT_PREFACE, ErrorCode, Flag, FrameParser, FrameType } from './frames.js';
import { encodeHeaderBlock } from './hpack.js';

const RESPONSE_HEADERS = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeHeaderBlock([
  ['grpc-status', '0'],
  ['grpc-message', 'fine'],
]);
const BASE_SETTINGS: H2Settings = { maxConcurrentStreams: 100, maxHeaderListBytes: 16384 };

/** A loopback server running one H2Connection per socket. */
interface TestServer {
  readonly port: number;
  readonly connections: H2Connection[];
  /** Resolves when the n-th connection (from 1) reported onClose. */
  closed(n: number): Promise<void>;
  stop(): Promise<void>;
}

async function startServer(
  settings: H2Settings,
  onStream: (stream: H2Stream, connection: H2Connection) => void,
): Promise<TestServer> {
  const connections: H2Connection[] = [];
  const closeWaiters: (() => void)[][] = [];
  const closedFlags: boolean[] = [];
  const server = net.createServer((socket) => {
    const index = connections.length;
    closedFlags[index] = false;
    const connection: H2Connection = new H2Connection(socket, settings, {
      onStream: (stream) => onStream(stream, connection),
      onClose: () => {
        assert.equal(closedFlags[index], false, 'onClose once');
        closedFlags[index] = true;
        for (const waiter of closeWaiters[index] ?? []) waiter();
      },
    });
    connections.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    closed(n: number) {
      const index = n - 1;
      if (closedFlags[index] === true) return Promise.resolve();
      return new Promise<void>((resolve) => {
        if (closeWaiters[index] === undefined) closeWaiters[index] = [];
        closeWaiters[index]!.push(resolve);
      });
    },
    async stop() {
      for (const connection of connections) connection.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Collects a stream's request body; calls `onEnd` with it when the client half-closes. */
function collect(
  stream: H2Stream,
  onEnd: (body: Buffer) => void,
  onClose?: (aborted: boolean) => void,
): H2StreamListener {
  const chunks: Buffer[] = [];
  const listener: H2StreamListener = {
    data: (chunk) => chunks.push(Buffer.from(chunk)),
    end: () => onEnd(Buffer.concat(chunks)),
    close: (aborted) => onClose?.(aborted),
    drain: () => {},
  };
  stream.listener = listener;
  return listener;
}

interface Response {
  status: number | undefined;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
  rstCode: number;
  error: Error | undefined;
}

/** One request with Node's client; resolves on the stream's close (never rejects). */
function request(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer | undefined,
): Promise<Response> {
  return new Promise((resolve) => {
    const req = client.request({ ':method': 'POST', ':path': '/test', ...headers });
    const result: Response = {
      status: undefined,
      headers: {},
      trailers: undefined,
      body: Buffer.alloc(0),
      rstCode: 0,
      error: undefined,
    };
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      result.headers = h;
      result.status = h[':status'];
    });
    req.on('trailers', (t) => {
      result.trailers = t;
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', (err) => {
      result.error = err;
    });
    req.on('close', () => {
      result.body = Buffer.concat(chunks);
      result.rstCode = req.rstCode ?? 0;
      resolve(result);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

function closeClient(client: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (client.closed) {
      resolve();
      return;
    }
    client.close(() => resolve());
  });
}

/** Waits turn by turn (I/O included) until `condition` holds; fails after many turns. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turns = 0; turns < 100000; turns++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`never: ${what}`);
}

function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('H2Connection with Node http2 as the client', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  it('answers a unary request: status, headers, body and trailers', async () => {
    let seen: Record<string, string> | undefined;
    let first: H2Stream | undefined;
    const server = await startServer(BASE_SETTINGS, (stream) => {
      seen = stream.headers;
      first ??= stream;
      collect(stream, (body) => {
        stream.reply(RESPONSE_HEADERS, Buffer.from(body.toString('utf8').toUpperCase()), OK_TRAILERS);
      });
    });
    servers.push(server);
    const client = await connect(server.port);
    const response = await request(
      client,
      { 'content-type': 'application/grpc', 'x-token': 'abc', 'x-dup': ['one', 'two'] },
      Buffer.from('hello'),
    );
    assert.equal(response.error, undefined);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/grpc');
    assert.equal(response.body.toString(), 'HELLO');
    assert.equal(response.trailers?.['grpc-status'], '0');
    assert.equal(response.trailers?.['grpc-message'], 'fine');
    assert.equal(response.rstCode, 0);
    assert.ok(seen !== undefined);
    assert.equal(seen[':method'], 'POST');
    assert.equal(seen[':path'], '/test');
    assert.equal(seen['x-token'], 'abc');
    assert.equal(seen['x-dup'], 'one, two');
    // A second request on the same connection (HPACK dynamic table in use by the client).
    const again = await request(
      client,
      { 'content-type': 'application/grpc', 'x-token': 'abc' },
      Buffer.from('x'),
    );
    assert.equal(again.body.toString(), 'X');
    assert.equal(server.connections[0]!.streamCount, 0);
    // A finished stream lets go of its listener (the call behind it): something old that still
    // points at the stream must not keep the whole request alive through young collections.
    assert.equal(first?.listener, undefined);
    await closeClient(client);
  });

  it('serves many concurrent streams, each with its own answer', async () => {
    const server = await startServer({ ...BASE_SETTINGS, maxConcurrentStreams: 500 }, (stream) => {
      collect(stream, (body) => {
        stream.respond(RESPONSE_HEADERS, false);
        stream.write(body);
        stream.write(Buffer.from(`:${stream.id}`));
        stream.end(OK_TRAILERS);
      });
    });
    servers.push(server);
    const client = await connect(server.port);
    const responses = await Promise.all(
      Array.from({ length: 300 }, (_, i) => request(client, {}, Buffer.from(`req${i}`))),
    );
    responses.forEach((response, i) => {
      assert.equal(response.status, 200);
      assert.match(response.body.toString(), new RegExp(`^req${i}:\\d+$`));
      assert.equal(response.trailers?.['grpc-status'], '0');
    });
    await closeClient(client);
  });

  it('moves bodies larger than the 65535 windows both ways (1 MiB answer with drain)', async () => {
    const requestBody = pattern(300_000, 7);
    const responseBytes = 1 << 20;
    let drains = 0;
    let flushed = 0;
    const server = await startServer(BASE_SETTINGS, (stream) => {
      const chunks: Buffer[] = [];
      let sent = 0;
      const sendMore = (): void => {
        while (sent < responseBytes) {
          const chunk = pattern(10_000, sent).subarray(0, Math.min(10_000, responseBytes - sent));
          sent += chunk.length;
          const more = stream.write(chunk, () => {
            flushed += chunk.length;
          });
          if (!more) return;
        }
        stream.end(OK_TRAILERS);
      };
      stream.listener = {
        data: (chunk) => chunks.push(Buffer.from(chunk)),
        end: () => {
          const body = Buffer.concat(chunks);
          assert.ok(body.equals(requestBody), 'request body arrives whole and in order');
          stream.respond(RESPONSE_HEADERS, false);
          sendMore();
        },
        close: () => {},
        drain: () => {
          drains++;
          sendMore();
        },
      };
    });
    servers.push(server);
    const client = await connect(server.port);
    const response = await request(client, {}, requestBody);
    assert.equal(response.error, undefined);
    assert.equal(response.body.length, responseBytes);
    let expectedOffset = 0;
    for (let at = 0; at < responseBytes; at += 10_000) {
      const expected = pattern(10_000, expectedOffset).subarray(0, Math.min(10_000, responseBytes - at));
      assert.ok(response.body.subarray(at, at + expected.length).equals(expected), `response bytes at ${at}`);
      expectedOffset += expected.length;
    }
    assert.equal(response.trailers?.['grpc-status'], '0');
    assert.ok(drains > 0, 'the client window held the stream back: write returned false, drain followed');
    await until(() => flushed === responseBytes, 'every onFlushed ran');
    await closeClient(client);
  });

  it('pause holds the client back at the stream window; resume delivers everything in order', async () => {
    let held: H2Stream | undefined;
    let delivered = 0;
    const chunks: Buffer[] = [];
    const server = await startServer(BASE_SETTINGS, (stream) => {
      held = stream;
      stream.pause();
      stream.listener = {
        data: (chunk) => {
          delivered += chunk.length;
          chunks.push(Buffer.from(chunk));
        },
        end: () => stream.reply(RESPONSE_HEADERS, Buffer.from(String(delivered)), OK_TRAILERS),
        close: () => {},
        drain: () => {},
      };
    });
    servers.push(server);
    const client = await connect(server.port);
    const body = pattern(200_000, 3);
    const pending = request(client, {}, body);
    await until(() => held !== undefined && held.heldBytes === 65535, 'the stream window is full');
    // A ping round trip: the client had every chance to send more, and could not.
    await new Promise<void>((resolve) => client.ping(() => resolve()));
    assert.equal(held!.heldBytes, 65535);
    assert.equal(delivered, 0, 'nothing delivered while paused');
    held!.resume();
    const response = await pending;
    assert.equal(response.body.toString(), String(body.length));
    assert.ok(Buffer.concat(chunks).equals(body));
    await closeClient(client);
  });

  it('a client RST_STREAM closes the stream with aborted = true', async () => {
    let opened: () => void = () => {};
    const streamOpened = new Promise<void>((resolve) => {
      opened = resolve;
    });
    let closedWith: boolean | undefined;
    let closeCount = 0;
    const closedPromise = new Promise<void>((resolve) => {
      void startServer(BASE_SETTINGS, (stream) => {
        stream.respond(RESPONSE_HEADERS, false);
        collect(
          stream,
          () => {},
          (aborted) => {
            closeCount++;
            closedWith = aborted;
            resolve();
          },
        );
        opened();
      }).then(async (server) => {
        servers.push(server);
        const client = await connect(server.port);
        const req = client.request({ ':method': 'POST', ':path': '/cancel' });
        req.on('error', () => {});
        await streamOpened;
        req.close(http2.constants.NGHTTP2_CANCEL);
        await closedPromise;
        await closeClient(client);
      });
    });
    await closedPromise;
    assert.equal(closedWith, true);
    assert.equal(closeCount, 1);
  });

  it('resets a request whose header list is over maxHeaderListBytes, and keeps serving', async () => {
    const server = await startServer({ ...BASE_SETTINGS, maxHeaderListBytes: 4096 }, (stream) => {
      collect(stream, () => stream.reply(RESPONSE_HEADERS, Buffer.from('ok'), OK_TRAILERS));
    });
    servers.push(server);
    const client = await connect(server.port);
    const big = await request(client, { 'x-big': 'a'.repeat(6000) }, Buffer.from('x'));
    assert.equal(big.status, undefined);
    assert.equal(big.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    const small = await request(client, { 'x-small': 'b' }, Buffer.from('x'));
    assert.equal(small.body.toString(), 'ok');
    await closeClient(client);
  });

  it('ping gets its ACK; a ping after close is refused', async () => {
    const server = await startServer(BASE_SETTINGS, () => {});
    servers.push(server);
    const client = await connect(server.port);
    await until(() => server.connections.length === 1, 'connection accepted');
    const connection = server.connections[0]!;
    const acked = await new Promise<boolean>((resolve) => connection.ping(resolve));
    assert.equal(acked, true);
    connection.close();
    assert.equal(
      connection.ping(() => {}),
      false,
    );
    await server.closed(1);
    await closeClient(client);
  });

  it('graceful close: GOAWAY, the stream in flight completes, then the socket ends', async () => {
    let release: () => void = () => {};
    const server = await startServer(BASE_SETTINGS, (stream, connection) => {
      collect(stream, (body) => {
        connection.close();
        release = () => stream.reply(RESPONSE_HEADERS, body, OK_TRAILERS);
      });
    });
    servers.push(server);
    const client = await connect(server.port);
    let goawayCode: number | undefined;
    client.on('goaway', (code) => {
      goawayCode = code;
    });
    client.on('error', () => {});
    const pending = request(client, {}, Buffer.from('in flight'));
    await until(() => goawayCode !== undefined, 'GOAWAY reached the client');
    assert.equal(goawayCode, http2.constants.NGHTTP2_NO_ERROR);
    release();
    const response = await pending;
    assert.equal(response.body.toString(), 'in flight');
    assert.equal(response.trailers?.['grpc-status'], '0');
    await server.closed(1);
    await closeClient(client);
  });

  it('destroy mid-stream: close(true), queued onFlushed callbacks run, onClose follows', async () => {
    let closedWith: boolean | undefined;
    let flushedCallbacks = 0;
    const server = await startServer(BASE_SETTINGS, (stream, connection) => {
      collect(
        stream,
        () => {
          stream.respond(RESPONSE_HEADERS, false);
          // Far over the client's window: most of it stays queued in the stream.
          for (let i = 0; i < 20; i++) stream.write(pattern(16384, i), () => flushedCallbacks++);
          connection.destroy();
        },
        (aborted) => {
          closedWith = aborted;
        },
      );
    });
    servers.push(server);
    const client = await connect(server.port);
    client.on('error', () => {});
    const response = await request(client, {}, Buffer.from('x'));
    assert.ok(response.error !== undefined || response.trailers === undefined, 'the client saw no clean end');
    await server.closed(1);
    assert.equal(closedWith, true);
    await until(() => flushedCallbacks === 20, 'every onFlushed ran');
  });
});

/** A frame seen by the raw client. */
interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

const REQUEST_BLOCK = encodeHeaderBlock([
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', '/raw'],
  [':authority', 'test'],
]);
const PREFACE_AND_SETTINGS = Buffer.concat([CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0)]);

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

/** A raw TCP client that parses what the server sends. */
class RawClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const parser = new FrameParser(
      {
        frame: (type, flags, streamId, buf, start, end) => {
          this.frames.push({ type, flags, streamId, payload: Buffer.from(buf.subarray(start, end)) });
        },
      },
      1 << 24,
    );
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
    });
  }

  send(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  goaway(): RawFrame | undefined {
    return this.frames.find((f) => f.type === FrameType.GOAWAY);
  }

  async goawayCode(): Promise<number> {
    await until(() => this.goaway() !== undefined || this.closed, 'GOAWAY or close');
    await until(() => this.closed, 'the server closed the socket');
    const goaway = this.goaway();
    assert.ok(goaway !== undefined, 'a GOAWAY came before the close');
    return goaway.payload.readUInt32BE(4);
  }

  rst(streamId: number): number | undefined {
    const rst = this.frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === streamId);
    return rst?.payload.readUInt32BE(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('H2Connection with malformed and hostile input (raw sockets)', () => {
  const servers: TestServer[] = [];
  const clients: RawClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const server of servers) await server.stop();
  });

  async function raw(
    settings: H2Settings = BASE_SETTINGS,
    onStream: (stream: H2Stream, connection: H2Connection) => void = (stream) =>
      collect(stream, () => stream.reply(RESPONSE_HEADERS, Buffer.from('ok'), OK_TRAILERS)),
  ): Promise<RawClient> {
    const server = await startServer(settings, onStream);
    servers.push(server);
    const client = await RawClient.connect(server.port);
    clients.push(client);
    return client;
  }

  it('sends SETTINGS first, then the connection WINDOW_UPDATE', async () => {
    const client = await raw({ ...BASE_SETTINGS, initialWindowBytes: 32768 });
    client.send(PREFACE_AND_SETTINGS);
    await until(() => client.frames.length >= 3, 'three frames');
    const [settings, windowUpdate, ack] = client.frames;
    assert.equal(settings!.type, FrameType.SETTINGS);
    const values = new Map<number, number>();
    for (let at = 0; at < settings!.payload.length; at += 6) {
      values.set(settings!.payload.readUInt16BE(at), settings!.payload.readUInt32BE(at + 2));
    }
    assert.equal(values.get(0x3), 100);
    assert.equal(values.get(0x6), 16384);
    assert.equal(values.get(0x4), 32768);
    assert.equal(values.get(0x2), 0);
    assert.equal(windowUpdate!.type, FrameType.WINDOW_UPDATE);
    assert.equal(windowUpdate!.payload.readUInt32BE(0), (1 << 20) - 65535);
    assert.equal(ack!.type, FrameType.SETTINGS);
    assert.equal(ack!.flags, Flag.ACK);
  });

  it('a bad preface closes the socket at once', async () => {
    const client = await raw();
    client.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(() => client.closed, 'closed');
    assert.equal(client.goaway(), undefined);
  });

  it('garbage after the preface: GOAWAY PROTOCOL_ERROR (not SETTINGS first)', async () => {
    const client = await raw();
    client.send(CLIENT_PREFACE, Buffer.from([0, 0, 4, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('a frame over 16384 bytes: GOAWAY FRAME_SIZE_ERROR', async () => {
    const client = await raw();
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.PING, 0, 0, Buffer.alloc(16385)));
    assert.equal(await client.goawayCode(), ErrorCode.FRAME_SIZE_ERROR);
  });

  it('another frame between HEADERS and its CONTINUATION: GOAWAY PROTOCOL_ERROR', async () => {
    const client = await raw();
    const half = REQUEST_BLOCK.length >> 1;
    client.send(
      PREFACE_AND_SETTINGS,
      frame(FrameType.HEADERS, 0, 1, REQUEST_BLOCK.subarray(0, half)),
      frame(FrameType.PING, 0, 0, Buffer.alloc(8)),
    );
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('a CONTINUATION of another stream: GOAWAY PROTOCOL_ERROR', async () => {
    const client = await raw();
    const half = REQUEST_BLOCK.length >> 1;
    client.send(
      PREFACE_AND_SETTINGS,
      frame(FrameType.HEADERS, 0, 1, REQUEST_BLOCK.subarray(0, half)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, REQUEST_BLOCK.subarray(half)),
    );
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('HEADERS + CONTINUATION split over many writes is one request', async () => {
    const client = await raw();
    const third = Math.ceil(REQUEST_BLOCK.length / 3);
    const bytes = Buffer.concat([
      PREFACE_AND_SETTINGS,
      frame(
        FrameType.HEADERS,
        Flag.PADDED,
        1,
        Buffer.concat([Buffer.from([3]), REQUEST_BLOCK.subarray(0, third), Buffer.alloc(3)]),
      ),
      frame(FrameType.CONTINUATION, 0, 1, REQUEST_BLOCK.subarray(third, 2 * third)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, REQUEST_BLOCK.subarray(2 * third)),
      frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('body')),
    ]);
    for (let at = 0; at < bytes.length; at += 5) client.send(bytes.subarray(at, at + 5));
    const ended = (): RawFrame | undefined =>
      client.frames.find((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0);
    await until(() => ended() !== undefined, 'the trailers');
    const data = client.frames.find((f) => f.type === FrameType.DATA && f.streamId === 1);
    assert.equal(data?.payload.toString(), 'ok');
    assert.equal(client.rst(1), undefined, 'the client had ended: no RST_STREAM after our END_STREAM');
  });

  it('an even stream id: GOAWAY PROTOCOL_ERROR', async () => {
    const client = await raw();
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.HEADERS, Flag.END_HEADERS, 2, REQUEST_BLOCK));
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('a stream id below one used before: GOAWAY PROTOCOL_ERROR', async () => {
    const client = await raw();
    client.send(
      PREFACE_AND_SETTINGS,
      frame(FrameType.HEADERS, Flag.END_HEADERS, 5, REQUEST_BLOCK),
      frame(FrameType.HEADERS, Flag.END_HEADERS, 3, REQUEST_BLOCK),
    );
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('DATA on an idle stream: GOAWAY PROTOCOL_ERROR', async () => {
    const client = await raw();
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.DATA, 0, 7, Buffer.from('x')));
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('WINDOW_UPDATE of 0: GOAWAY PROTOCOL_ERROR on stream 0, RST_STREAM on a stream', async () => {
    const onStream = (stream: H2Stream): void => {
      stream.listener = { data() {}, end() {}, close() {}, drain() {} };
    };
    const streamClient = await raw(BASE_SETTINGS, onStream);
    streamClient.send(
      PREFACE_AND_SETTINGS,
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, REQUEST_BLOCK),
      frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0)),
    );
    await until(() => streamClient.rst(1) !== undefined, 'RST_STREAM');
    assert.equal(streamClient.rst(1), ErrorCode.PROTOCOL_ERROR);
    const client = await raw();
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0)));
    assert.equal(await client.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  });

  it('a connection window past 2^31-1: GOAWAY FLOW_CONTROL_ERROR', async () => {
    const client = await raw();
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)));
    assert.equal(await client.goawayCode(), ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('DATA over the stream window: RST_STREAM FLOW_CONTROL_ERROR', async () => {
    const client = await raw({ ...BASE_SETTINGS, initialWindowBytes: 65535 }, (stream) => {
      stream.pause();
      stream.listener = { data() {}, end() {}, close() {}, drain() {} };
    });
    const frames = [PREFACE_AND_SETTINGS, frame(FrameType.HEADERS, Flag.END_HEADERS, 1, REQUEST_BLOCK)];
    for (let sent = 0; sent < 65535; sent += 16383) {
      frames.push(frame(FrameType.DATA, 0, 1, Buffer.alloc(Math.min(16383, 65535 - sent))));
    }
    frames.push(frame(FrameType.DATA, 0, 1, Buffer.alloc(1)));
    client.send(...frames);
    await until(() => client.rst(1) !== undefined, 'RST_STREAM');
    assert.equal(client.rst(1), ErrorCode.FLOW_CONTROL_ERROR);
    assert.equal(client.goaway(), undefined);
  });

  it('MAX_CONCURRENT_STREAMS: the stream over it is refused', async () => {
    const client = await raw({ ...BASE_SETTINGS, maxConcurrentStreams: 2 }, (stream) => {
      stream.listener = { data() {}, end() {}, close() {}, drain() {} };
    });
    client.send(
      PREFACE_AND_SETTINGS,
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, REQUEST_BLOCK),
      frame(FrameType.HEADERS, Flag.END_HEADERS, 3, REQUEST_BLOCK),
      frame(FrameType.HEADERS, Flag.END_HEADERS, 5, REQUEST_BLOCK),
    );
    await until(() => client.rst(5) !== undefined, 'RST_STREAM');
    assert.equal(client.rst(5), ErrorCode.REFUSED_STREAM);
    assert.equal(client.rst(1), undefined);
    assert.equal(client.rst(3), undefined);
  });

  it('a PING flood while we reply: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const client = await raw();
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    client.send(PREFACE_AND_SETTINGS, ...Array.from({ length: 3000 }, () => ping));
    assert.equal(await client.goawayCode(), ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('rapid reset: more client resets a second than allowed: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const client = await raw(
      { ...BASE_SETTINGS, maxClientResetsPerSecond: 10, now: () => 5000 },
      (stream) => {
        stream.listener = { data() {}, end() {}, close() {}, drain() {} };
      },
    );
    const frames: Buffer[] = [PREFACE_AND_SETTINGS];
    for (let id = 1; id <= 23; id += 2) {
      frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, REQUEST_BLOCK));
      frames.push(frame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL)));
    }
    client.send(...frames);
    assert.equal(await client.goawayCode(), ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('a graceful close refuses new streams and ends once the open one is done', async () => {
    let open: H2Stream | undefined;
    let connection: H2Connection | undefined;
    const client = await raw(BASE_SETTINGS, (stream, conn) => {
      open = stream;
      connection = conn;
      stream.listener = { data() {}, end() {}, close() {}, drain() {} };
    });
    client.send(PREFACE_AND_SETTINGS, frame(FrameType.HEADERS, Flag.END_HEADERS, 1, REQUEST_BLOCK));
    await until(() => open !== undefined, 'stream 1');
    connection!.close();
    await until(() => client.goaway() !== undefined, 'GOAWAY');
    assert.equal(client.goaway()!.payload.readUInt32BE(0), 1, 'last stream id');
    assert.equal(client.goaway()!.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
    client.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, REQUEST_BLOCK));
    await until(() => client.rst(3) !== undefined, 'stream 3 refused');
    assert.equal(client.rst(3), ErrorCode.REFUSED_STREAM);
    assert.equal(client.closed, false);
    open!.reply(RESPONSE_HEADERS, Buffer.from('done'), OK_TRAILERS);
    await until(() => client.closed, 'the server ended the socket');
    const data = client.frames.find((f) => f.type === FrameType.DATA && f.streamId === 1);
    assert.equal(data?.payload.toString(), 'done');
  });
});

describe('requestHeaders', () => {
  it('joins duplicates and refuses malformed lists', () => {
    const base = [':method', 'POST', ':scheme', 'http', ':path', '/a'];
    assert.deepEqual(
      { ...requestHeaders([...base, 'a', '1', 'a', '2']) },
      {
        ':method': 'POST',
        ':scheme': 'http',
        ':path': '/a',
        a: '1, 2',
      },
    );
    assert.equal(requestHeaders([...base, 'Upper', 'x']), undefined);
    assert.equal(requestHeaders(['a', '1', ...base]), undefined);
    assert.equal(requestHeaders([...base, ':path', '/b']), undefined);
    assert.equal(requestHeaders([...base, 'connection', 'close']), undefined);
    assert.equal(requestHeaders([':method', 'POST']), undefined);
    assert.equal(requestHeaders([...base, 'te', 'trailers'])?.te, 'trailers');
  });
});

/** A socket stand-in: what the connection writes is parsed; the test feeds bytes as 'data'. */
class FakeSocket extends Duplex {
  readonly written: RawFrame[] = [];
  private readonly parser = new FrameParser(
    {
      frame: (type, flags, streamId, buf, start, end) => {
        this.written.push({ type, flags, streamId, payload: Buffer.from(buf.subarray(start, end)) });
      },
    },
    1 << 24,
  );
  setNoDelay(): this {
    return this;
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.parser.push(chunk);
    callback();
  }
}

/** A frame for the fuzz: mostly well-formed, on streams the run opened, some of it random. */
interface FuzzFrame {
  readonly type: number;
  readonly flags: number;
  /** HEADERS: open the next stream id; others: index into the ids opened (0: stream 0). */
  readonly fresh: boolean;
  readonly pick: number;
  readonly payload: Uint8Array;
}

const REQUEST_HALF = REQUEST_BLOCK.subarray(0, REQUEST_BLOCK.length >> 1);

function fuzzFrameArb(): fc.Arbitrary<FuzzFrame> {
  const pick = fc.integer({ min: 0, max: 6 });
  const of = (type: number, flags: fc.Arbitrary<number>, payload: fc.Arbitrary<Uint8Array>, fresh = false) =>
    fc.record({ type: fc.constant(type), flags, fresh: fc.constant(fresh), pick, payload });
  return fc.oneof(
    {
      weight: 4,
      arbitrary: of(FrameType.HEADERS, fc.constantFrom(4, 5, 4, 5, 0), fc.constant(REQUEST_BLOCK), true),
    },
    {
      weight: 1,
      arbitrary: of(
        FrameType.HEADERS,
        fc.constantFrom(0x24, 0x25, 0x2c),
        fc.constant(Buffer.concat([Buffer.alloc(5), REQUEST_BLOCK])),
        true,
      ),
    },
    { weight: 1, arbitrary: of(FrameType.HEADERS, fc.constantFrom(0, 1), fc.constant(REQUEST_HALF), true) },
    { weight: 1, arbitrary: of(FrameType.HEADERS, fc.constantFrom(4, 5), fc.constant(REQUEST_BLOCK)) },
    {
      weight: 1,
      arbitrary: of(
        FrameType.CONTINUATION,
        fc.constantFrom(0, 4),
        fc.constant(REQUEST_BLOCK.subarray(REQUEST_HALF.length)),
      ),
    },
    {
      weight: 6,
      arbitrary: of(FrameType.DATA, fc.constantFrom(0, 1, 8, 9), fc.uint8Array({ maxLength: 60 })),
    },
    {
      weight: 2,
      arbitrary: of(
        FrameType.WINDOW_UPDATE,
        fc.constant(0),
        fc.oneof(
          fc.constant(u32(0)),
          fc.integer({ min: 0, max: 0x7fffffff }).map(u32),
          fc.uint8Array({ maxLength: 6 }),
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: of(
        FrameType.RST_STREAM,
        fc.constant(0),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant(u32(8)) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 5 }) },
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: of(
        FrameType.SETTINGS,
        fc.constantFrom(0, 1),
        fc
          .array(
            fc.tuple(
              fc.integer({ min: 0, max: 8 }),
              fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(0x7fffffff), fc.constant(0x80000000)),
            ),
            { maxLength: 3 },
          )
          .map((entries) => {
            const out = Buffer.alloc(entries.length * 6);
            entries.forEach(([id, value], i) => {
              out.writeUInt16BE(id, i * 6);
              out.writeUInt32BE(value, i * 6 + 2);
            });
            return out;
          }),
      ),
    },
    {
      weight: 1,
      arbitrary: of(
        FrameType.PING,
        fc.constantFrom(0, 1),
        fc.oneof(
          { weight: 4, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }) },
          { weight: 1, arbitrary: fc.uint8Array({ minLength: 7, maxLength: 9 }) },
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: of(
        FrameType.PRIORITY,
        fc.constant(0),
        fc.oneof(
          { weight: 4, arbitrary: fc.uint8Array({ minLength: 5, maxLength: 5 }) },
          { weight: 1, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 6 }) },
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: of(FrameType.GOAWAY, fc.constant(0), fc.uint8Array({ minLength: 8, maxLength: 8 })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.integer({ min: 0, max: 255 }),
        flags: fc.integer({ min: 0, max: 255 }),
        fresh: fc.boolean(),
        pick,
        payload: fc.uint8Array({ maxLength: 40 }),
      }),
    },
  );
}

describe('H2Connection fuzz', () => {
  it('random frames after a valid preface never throw and never end in INTERNAL_ERROR', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fuzzFrameArb(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 64 }),
        async (frames, cut) => {
          const socket = new FakeSocket();
          let uncaught: unknown;
          const connection = new H2Connection(
            socket as unknown as net.Socket,
            { ...BASE_SETTINGS, maxConcurrentStreams: 4 },
            {
              onStream: (stream) => {
                let responded = false;
                stream.listener = {
                  data: (chunk) => {
                    if (chunk.length <= 3) return;
                    if (!responded) stream.respond(RESPONSE_HEADERS, false);
                    responded = true;
                    stream.write(chunk);
                  },
                  end: () => stream.reply(RESPONSE_HEADERS, Buffer.from('r'), OK_TRAILERS),
                  close() {},
                  drain() {},
                };
                if (stream.id % 3 === 0) stream.pause();
                if (stream.id % 5 === 0) {
                  stream.respond(RESPONSE_HEADERS, false);
                  responded = true;
                }
                if (stream.id % 7 === 0) setImmediate(() => stream.resume());
              },
              onClose() {},
            },
          );
          const ids = [0];
          let next = 1;
          const wire: Buffer[] = [PREFACE_AND_SETTINGS];
          for (const f of frames) {
            let streamId: number;
            if (f.fresh) {
              streamId = next;
              next += 2;
              ids.push(streamId);
            } else if (f.type === FrameType.CONTINUATION && f.pick < 5) {
              streamId = ids[ids.length - 1]!;
            } else if (
              f.type === FrameType.SETTINGS ||
              f.type === FrameType.PING ||
              f.type === FrameType.GOAWAY
            ) {
              streamId = f.pick === 6 ? ids[ids.length - 1]! : 0; // Mostly on stream 0, as they belong.
            } else {
              // Mostly on a stream the run opened; stream 0 now and then.
              streamId = f.pick === 6 || ids.length === 1 ? 0 : ids[1 + (f.pick % (ids.length - 1))]!;
            }
            const payload = Buffer.from(f.payload);
            // Padding mostly valid, so DATA mostly reaches the stream.
            if ((f.flags & Flag.PADDED) !== 0 && payload.length > 0 && f.pick < 5) {
              payload[0] = Math.min(payload[0]!, payload.length - 1);
            }
            wire.push(frame(f.type, f.flags, streamId, payload));
            // A header block left open is mostly closed by its CONTINUATION.
            if (f.type === FrameType.HEADERS && (f.flags & Flag.END_HEADERS) === 0 && f.pick < 5) {
              const rest =
                f.payload === REQUEST_HALF ? REQUEST_BLOCK.subarray(REQUEST_HALF.length) : Buffer.alloc(0);
              wire.push(frame(FrameType.CONTINUATION, Flag.END_HEADERS, streamId, rest));
            }
          }
          const bytes = Buffer.concat(wire);
          try {
            for (let at = 0; at < bytes.length; at += cut) socket.emit('data', bytes.subarray(at, at + cut));
          } catch (err) {
            uncaught = err;
          }
          await new Promise((resolve) => setImmediate(resolve));
          connection.destroy();
          assert.equal(uncaught, undefined);
          const goaway = socket.written.find((f) => f.type === FrameType.GOAWAY);
          if (goaway !== undefined) assert.notEqual(goaway.payload.readUInt32BE(4), ErrorCode.INTERNAL_ERROR);
        },
      ),
      { numRuns: 500 },
    );
  });
});
