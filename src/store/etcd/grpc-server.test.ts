import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import type { Logger } from '../../core/log.js';
import { ManualClock } from '../../core/manual-clock.js';
import { GRPC } from '../errors.js';
import type { MethodCodec, MethodHandler, ServerCall } from './grpc-call.js';
import { GrpcServer, type GrpcServerLimits } from './grpc-server.js';
import { decodeGrpcMessage, frameMessage, MessageReader } from './grpc-wire.js';

const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
console.log(
  `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/store/etcd/grpc-server.test.ts`,
);

const LIMITS: GrpcServerLimits = {
  maxMessageBytes: 1024,
  maxStreamsPerConnection: 100,
  maxConnections: 16,
  maxHeaderListBytes: 16 * 1024,
  closeGraceMs: 20,
  maxQueuedResponseBytesPerConnection: 1024 * 1024,
  streamHighWaterBytes: 16 * 1024,
  maxBufferedRequestBytesPerConnection: 4 * 1024,
  queuedResponseStallMs: 60_000,
  requestArrivalMs: 1_000,
  maxQueuedResponseBytes: 64 * 1024 * 1024,
  maxBufferedRequestBytes: 64 * 1024 * 1024,
  connectionShareBytes: 64 * 1024,
  idleConnectionMs: 600_000,
  keepAliveIntervalMs: 3_600_000,
  keepAliveTimeoutMs: 20_000,
};

type Bytes = { bytes: Buffer };
const codec = (requestStream: boolean, responseStream: boolean): MethodCodec => ({
  requestStream,
  responseStream,
  deserialize: (bytes) => ({ bytes }),
  serialize: (res) => (res as Bytes).bytes,
});

/** Calls the handlers saw, for tests to wait on and inspect. */
class Probe {
  readonly started: ServerCall[] = [];
  private waiters: (() => void)[] = [];
  add(call: ServerCall): void {
    this.started.push(call);
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once `n` slow calls started. */
  async waitFor(n: number): Promise<ServerCall> {
    while (this.started.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.started[n - 1]!;
  }
}

function echoServer(clock?: ManualClock): { server: GrpcServer; probe: Probe } {
  const server = new GrpcServer(LIMITS, clock);
  const probe = new Probe();
  const unary: MethodHandler = {
    kind: 'unary',
    handle: (req, call) => {
      const text = (req as Bytes).bytes.toString();
      if (text === 'slow') probe.add(call);
      else if (text.startsWith('fail:'))
        call.fail({ code: GRPC.FAILED_PRECONDITION, details: text.slice(5) });
      else if (text === 'throw') throw new Error('handler bug');
      else call.reply(req);
    },
  };
  const bidi: MethodHandler = {
    kind: 'stream',
    handle: (call) => {
      probe.add(call);
      call.listen({ message: (req) => call.write(req), end: () => call.end() });
    },
  };
  server.addService(
    'test.Echo',
    { Unary: codec(false, false), Bidi: codec(true, true) },
    { Unary: unary, Bidi: bidi },
  );
  return { server, probe };
}

interface Answer {
  httpStatus: number | undefined;
  grpcStatus: number | undefined;
  message: string;
  messages: string[];
  rstCode: number;
}

/** Sends `chunks` on a new stream (each written after the previous one left), ends unless told. */
function call(
  session: http2.ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  options: {
    headers?: http2.OutgoingHttpHeaders;
    end?: boolean;
    onStream?: (s: http2.ClientHttp2Stream) => void;
  } = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...options.headers,
    });
    const answer: Answer = {
      httpStatus: undefined,
      grpcStatus: undefined,
      message: '',
      messages: [],
      rstCode: 0,
    };
    const reader = new MessageReader(1 << 20, undefined);
    const status = (h: http2.IncomingHttpHeaders) => {
      if (h[':status'] !== undefined) answer.httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) answer.grpcStatus = Number(h['grpc-status']);
      if (typeof h['grpc-message'] === 'string') answer.message = decodeGrpcMessage(h['grpc-message']);
    };
    stream.on('response', status);
    stream.on('trailers', status);
    stream.on('data', (chunk: Buffer) => {
      const r = reader.push(chunk);
      assert.ok(Array.isArray(r));
      answer.messages.push(...r.map((b) => b.toString()));
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      answer.rstCode = stream.rstCode ?? 0;
      resolve(answer);
    });
    options.onStream?.(stream);
    const writeAll = async () => {
      for (const c of chunks) await new Promise<void>((r) => stream.write(c, () => r()));
      if (options.end !== false) stream.end();
    };
    void writeAll().catch(() => {});
  });
}

const frame = (text: string) => frameMessage(Buffer.from(text));

describe('gRPC server on its own HTTP/2 connections', { timeout: 60_000 }, () => {
  let clock: ManualClock;
  let server: GrpcServer;
  let probe: Probe;
  let session: http2.ClientHttp2Session;
  let port: number;
  before(async () => {
    clock = new ManualClock(0);
    ({ server, probe } = echoServer(clock));
    port = await server.listen('127.0.0.1', 0);
    session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
  });
  after(async () => {
    session.close();
    const closed = server.close();
    clock.advance(LIMITS.closeGraceMs);
    await closed;
  });

  it('answers a unary call whose message spans several DATA frames', async () => {
    const wire = frame('hello across frames');
    const a = await call(session, '/test.Echo/Unary', [
      wire.subarray(0, 2),
      wire.subarray(2, 9),
      wire.subarray(9),
    ]);
    assert.equal(a.httpStatus, 200);
    assert.equal(a.grpcStatus, 0);
    assert.deepEqual(a.messages, ['hello across frames']);
  });

  it('reads several messages sharing one DATA frame on a bidirectional stream', async () => {
    const a = await call(session, '/test.Echo/Bidi', [
      Buffer.concat([frame('a'), frame('bb'), frame('ccc')]),
    ]);
    assert.equal(a.grpcStatus, 0);
    assert.deepEqual(a.messages, ['a', 'bb', 'ccc']);
  });

  it('refuses an oversized message from its prefix, without waiting for its body', async () => {
    // The body never comes and the stream is not ended: only a refusal from the prefix answers.
    const prefix = Buffer.from([0, 0x06, 0, 0, 0]); // 100 MiB announced
    const a = await call(session, '/test.Echo/Unary', [prefix], { end: false });
    assert.equal(a.grpcStatus, GRPC.RESOURCE_EXHAUSTED);
    assert.equal(a.message, `Received message larger than max (${0x06000000} vs ${LIMITS.maxMessageBytes})`);
  });

  it('answers a truncated message, an empty unary call and a second unary message with INTERNAL', async () => {
    const truncated = await call(session, '/test.Echo/Unary', [Buffer.from([0, 0, 0, 0, 10, 1, 2, 3])]);
    assert.equal(truncated.grpcStatus, GRPC.INTERNAL);
    assert.match(truncated.message, /ended inside a message/);
    const empty = await call(session, '/test.Echo/Unary', []);
    assert.equal(empty.grpcStatus, GRPC.INTERNAL);
    assert.match(empty.message, /without a request message/);
    const two = await call(session, '/test.Echo/Unary', [Buffer.concat([frame('a'), frame('b')])]);
    assert.equal(two.grpcStatus, GRPC.INTERNAL);
    assert.match(two.message, /more than one request message/);
  });

  it('answers a bad content-type with HTTP 415 and another method than POST with 405', async () => {
    const a = await call(session, '/test.Echo/Unary', [frame('x')], {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(a.httpStatus, 415);
    assert.equal(a.grpcStatus, undefined);
    const b = await call(session, '/test.Echo/Unary', [frame('x')], {
      headers: { 'content-type': 'application/grpcx' },
    });
    assert.equal(b.httpStatus, 415);
    const ok = await call(session, '/test.Echo/Unary', [frame('x')], {
      headers: { 'content-type': 'application/grpc+proto' },
    });
    assert.equal(ok.grpcStatus, 0);
    const get = await call(session, '/test.Echo/Unary', [], { headers: { ':method': 'GET' }, end: true });
    assert.equal(get.httpStatus, 405);
  });

  it('answers unknown services and methods with UNIMPLEMENTED worded as grpc-go', async () => {
    const svc = await call(session, '/test.Nope/Unary', [frame('x')]);
    assert.equal(svc.grpcStatus, GRPC.UNIMPLEMENTED);
    assert.equal(svc.message, 'unknown service test.Nope');
    const method = await call(session, '/test.Echo/Nope', [frame('x')]);
    assert.equal(method.message, 'unknown method Nope for service test.Echo');
    const malformed = await call(session, '/nonsense', [frame('x')]);
    assert.equal(malformed.grpcStatus, GRPC.UNIMPLEMENTED);
    assert.equal(malformed.message, 'malformed method name: "/nonsense"');
  });

  it('ends a call at its grpc-timeout with DEADLINE_EXCEEDED and aborts the handler', async () => {
    const n = probe.started.length;
    const answer = call(session, '/test.Echo/Unary', [frame('slow')], { headers: { 'grpc-timeout': '50m' } });
    const started = await probe.waitFor(n + 1);
    clock.advance(49);
    assert.equal(started.signal.aborted, false);
    clock.advance(1);
    const a = await answer;
    assert.equal(a.grpcStatus, GRPC.DEADLINE_EXCEEDED);
    assert.equal(a.message, 'context deadline exceeded');
    assert.equal(started.signal.aborted, true);
    // A reply after the deadline is ignored.
    started.reply({ bytes: Buffer.from('late') });
  });

  it('answers a call whose request does not arrive whole within requestArrivalMs with DEADLINE_EXCEEDED', async () => {
    // Headers and half a message, then nothing: the stream slot is freed at the bound.
    const whole = frame('x');
    const late = call(session, '/test.Echo/Unary', [whole.subarray(0, 3)], { end: false });
    // A request that does arrive in time is answered as usual, its bound cancelled.
    const ok = await call(session, '/test.Echo/Unary', [frame('fine')]);
    assert.equal(ok.grpcStatus, 0);
    clock.advance(LIMITS.requestArrivalMs - 1);
    // Headers only, no message and no end: the same bound. (A call after it on the same connection
    // is answered only once the server has taken it: its bound starts now.)
    const silent = call(session, '/test.Echo/Unary', [], { end: false });
    assert.equal((await call(session, '/test.Echo/Unary', [frame('sync')])).grpcStatus, 0);
    clock.advance(1);
    const a = await late;
    assert.equal(a.grpcStatus, GRPC.DEADLINE_EXCEEDED);
    assert.equal(a.message, `grpc: the request did not arrive within ${LIMITS.requestArrivalMs} ms`);
    clock.advance(LIMITS.requestArrivalMs - 1);
    assert.equal((await silent).grpcStatus, GRPC.DEADLINE_EXCEEDED);
    // A bidirectional stream has no such bound: it stays open past it.
    let bidi: http2.ClientHttp2Stream | undefined;
    const n = probe.started.length;
    const open = call(session, '/test.Echo/Bidi', [], { end: false, onStream: (s) => (bidi = s) });
    await probe.waitFor(n + 1);
    clock.advance(LIMITS.requestArrivalMs * 2);
    await new Promise((r) => setImmediate(r));
    assert.equal(bidi?.closed, false);
    bidi?.end();
    assert.equal((await open).grpcStatus, 0);
  });

  it('refuses a malformed grpc-timeout with INTERNAL', async () => {
    const a = await call(session, '/test.Echo/Unary', [frame('x')], {
      headers: { 'grpc-timeout': '10seconds' },
    });
    assert.equal(a.grpcStatus, GRPC.INTERNAL);
    assert.match(a.message, /^malformed grpc-timeout: "10seconds"/);
  });

  it('aborts the handler when the client cancels the call', async () => {
    const n = probe.started.length;
    let client: http2.ClientHttp2Stream | undefined;
    const answer = call(session, '/test.Echo/Unary', [frame('slow')], { onStream: (s) => (client = s) });
    const started = await probe.waitFor(n + 1);
    const aborted = new Promise<void>((r) => started.signal.addEventListener('abort', () => r()));
    client!.close(http2.constants.NGHTTP2_CANCEL);
    await aborted;
    await answer;
    assert.equal(started.cancelled, true);
  });

  it('percent-encodes grpc-message so that any text survives the round trip, grpc-js reading it', async () => {
    const text = 'naïve 100% sure\n\t→ 𝄞 done';
    const a = await call(session, '/test.Echo/Unary', [frame(`fail:${text}`)]);
    assert.equal(a.grpcStatus, GRPC.FAILED_PRECONDITION);
    assert.equal(a.message, text);
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        '/test.Echo/Unary',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(`fail:${text}`),
        (e) => resolve(e),
      ),
    );
    client.close();
    assert.equal(err?.code, GRPC.FAILED_PRECONDITION);
    assert.equal(err?.details, text);
  });

  it('answers a handler that throws with INTERNAL and keeps serving', async () => {
    const a = await call(session, '/test.Echo/Unary', [frame('throw')]);
    assert.equal(a.grpcStatus, GRPC.INTERNAL);
    const ok = await call(session, '/test.Echo/Unary', [frame('still up')]);
    assert.deepEqual(ok.messages, ['still up']);
  });

  it('survives random frames and headers: every stream is answered or reset (fuzz)', async () => {
    const paths = [
      '/test.Echo/Unary',
      '/test.Echo/Bidi',
      '/test.Echo/Nope',
      '/x',
      '',
      '/test.Echo/Unary/extra',
    ];
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc
        .record({
          flag: fc.constantFrom(0, 0, 1, 2, 255),
          len: fc.oneof(fc.nat(40), fc.nat()),
          body: fc.uint8Array({ maxLength: 40 }),
        })
        .map(({ flag, len, body }) => {
          const b = Buffer.alloc(5 + body.length);
          b[0] = flag;
          b.writeUInt32BE(len >>> 0, 1);
          b.set(body, 5);
          return b;
        }),
    );
    const headers = fc.record({
      'content-type': fc.constantFrom(
        'application/grpc',
        'application/grpc+proto',
        'text/plain',
        'application/grpc;x=1',
      ),
      'grpc-timeout': fc.constantFrom(undefined, '1S', '0n', 'x', '99999999H', '123'),
      'grpc-encoding': fc.constantFrom(undefined, 'gzip', 'identity', ''),
      token: fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x21-\x7e]/g, 'x')),
    });
    const sample = fc.sample(
      fc.record({
        path: fc.constantFrom(...paths),
        headers,
        chunks: fc.array(chunk, { maxLength: 4 }),
        cancel: fc.boolean(),
      }),
      { seed, numRuns: 150 },
    );
    for (const s of sample) {
      const h: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(s.headers)) if (v !== undefined) h[k] = v;
      const answer = call(session, s.path === '' ? '/' : s.path, s.chunks, {
        headers: h,
        onStream: (stream) => {
          if (s.cancel) setImmediate(() => stream.close(http2.constants.NGHTTP2_CANCEL));
        },
      });
      const a = await answer;
      assert.ok(a.httpStatus !== undefined || a.rstCode !== 0 || s.cancel, JSON.stringify(s));
      // A pending 'slow' never occurs here: the deadline queue is on the manual clock.
      clock.advance(0);
    }
    const ok = await call(session, '/test.Echo/Unary', [frame('alive')]);
    assert.deepEqual(ok.messages, ['alive']);
  });
});

describe('gRPC server: connection and header limits', { timeout: 60_000 }, () => {
  it('closes a connection over maxConnections and resets a stream over maxHeaderListBytes', async () => {
    const server = new GrpcServer({ ...LIMITS, maxConnections: 1 });
    const unary: MethodHandler = { kind: 'unary', handle: (req, c) => c.reply(req) };
    server.addService('test.Echo', { Unary: codec(false, false) }, { Unary: unary });
    const port = await server.listen('127.0.0.1', 0);
    const first = http2.connect(`http://127.0.0.1:${port}`);
    first.on('error', () => {});
    const ok = await call(first, '/test.Echo/Unary', [frame('one')]);
    assert.deepEqual(ok.messages, ['one']);
    const second = http2.connect(`http://127.0.0.1:${port}`);
    second.on('error', () => {});
    const refused = await call(second, '/test.Echo/Unary', [frame('two')]);
    assert.equal(refused.grpcStatus, undefined);
    assert.deepEqual(refused.messages, []);
    second.destroy();
    const big = await call(first, '/test.Echo/Unary', [frame('big')], {
      headers: { 'x-padding': 'a'.repeat(LIMITS.maxHeaderListBytes) },
    });
    assert.equal(big.grpcStatus, undefined);
    assert.notEqual(big.rstCode, 0);
    const after = await call(first, '/test.Echo/Unary', [frame('after')]);
    assert.deepEqual(after.messages, ['after']);
    first.destroy();
    await server.close();
  });
});

describe('gRPC server: close', { timeout: 60_000 }, () => {
  it('closes with open streams and calls in flight, cancelling them', async () => {
    const { server, probe } = echoServer();
    const port = await server.listen('127.0.0.1', 0);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const bidi = call(session, '/test.Echo/Bidi', [frame('open')], { end: false });
    const slow = call(session, '/test.Echo/Unary', [frame('slow')]);
    const bidiCall = await probe.waitFor(1);
    await probe.waitFor(2);
    assert.equal(server.connections, 1);
    await server.close();
    await Promise.all([bidi, slow]);
    assert.equal(bidiCall.cancelled, true);
    assert.equal(server.connections, 0);
    session.destroy();
  });
});

describe('gRPC server: a connection that reads none of its responses', { timeout: 60_000 }, () => {
  it('is refused new calls, then closed with a warning naming the peer once it stalls', async () => {
    const clock = new ManualClock();
    const warnings: Record<string, unknown>[] = [];
    const logger = { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as Logger;
    const limits = {
      ...LIMITS,
      maxQueuedResponseBytesPerConnection: 256 * 1024,
      queuedResponseStallMs: 1000,
    };
    const server = new GrpcServer(limits, clock, logger);
    const big: MethodHandler = {
      kind: 'unary',
      handle: (_req, c) => c.reply({ bytes: Buffer.alloc(100 * 1024, 1) }),
    };
    server.addService('test.Big', { Get: codec(false, false) }, { Get: big });
    const port = await server.listen('127.0.0.1', 0);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const closed = new Promise<void>((resolve) => session.once('close', resolve));
    // Requests whose answers are never read: the stream is never put in flowing mode.
    let refusal: http2.IncomingHttpHeaders | undefined;
    let answered = 0;
    for (let i = 0; i < 32 && refusal === undefined; i++) {
      const s = session.request({
        ':method': 'POST',
        ':path': '/test.Big/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      s.on('error', () => {});
      s.end(frame('x'));
      const h = await new Promise<http2.IncomingHttpHeaders>((resolve) => s.once('response', resolve));
      if (h['grpc-status'] !== undefined) refusal = h;
      else answered++;
    }
    assert.ok(refusal !== undefined);
    assert.equal(refusal['grpc-status'], String(GRPC.RESOURCE_EXHAUSTED));
    assert.ok(answered >= 2);
    const queued = server.queuedResponseBytes()[0]!;
    assert.ok(queued > limits.maxQueuedResponseBytesPerConnection);
    assert.ok(queued <= limits.maxQueuedResponseBytesPerConnection + 100 * 1024 + 5);
    clock.advance(999);
    assert.equal(server.connections, 1);
    assert.equal(warnings.length, 0);
    clock.advance(1);
    await closed;
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!.peer), /^127\.0\.0\.1:\d+$/);
    assert.equal(server.connections, 0);
    await server.close();
  });
});

describe('gRPC server: request bytes a connection holds', { timeout: 60_000 }, () => {
  it('refuses the call that takes its connection over the bound, and counts a cancelled call out', async () => {
    const { server } = echoServer();
    const port = await server.listen('127.0.0.1', 0);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    // Each call sends a 1000-byte message but only 900 bytes of it, and keeps its stream open.
    const partial = frameMessage(Buffer.alloc(1000, 97)).subarray(0, 5 + 900);
    const streams: http2.ClientHttp2Stream[] = [];
    const open: Promise<Answer>[] = [];
    const per = 900;
    const fits = Math.floor(LIMITS.maxBufferedRequestBytesPerConnection / per);
    for (let i = 0; i < fits; i++)
      open.push(
        call(session, '/test.Echo/Unary', [partial], { end: false, onStream: (s) => streams.push(s) }),
      );
    const over = await call(session, '/test.Echo/Unary', [partial], { end: false });
    assert.equal(over.grpcStatus, GRPC.RESOURCE_EXHAUSTED);
    assert.match(over.message, /request bytes not yet complete, over its limit of 4096/);
    // A whole request that fits beside the held ones is served.
    const small = await call(session, '/test.Echo/Unary', [frame('s'.repeat(100))]);
    assert.deepEqual(small.messages, ['s'.repeat(100)]);
    // One that does not fit is served once a held call is cancelled.
    const first = streams[0]!;
    const cancelled = new Promise<void>((resolve) => first.once('close', resolve));
    first.close(http2.constants.NGHTTP2_CANCEL);
    await cancelled;
    // A round trip after the reset: the server has read it before this answer.
    await call(session, '/test.Echo/Unary', [frame('ping')]);
    const whole = 'w'.repeat(800);
    const served = await call(session, '/test.Echo/Unary', [frame(whole)]);
    assert.deepEqual(served.messages, [whole]);
    for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
    await Promise.all(open);
    session.destroy();
    await server.close();
  });
});
