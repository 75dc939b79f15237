/**
 * Transport benchmark: `npm run bench -- transport [--seconds 2] [--size 1024]`.
 *
 * Over TCP loopback, in one process and one run, it measures:
 * 1. one-way throughput of 1 KiB messages: NetTransport streams vs a bare `node:net` connection
 *    sending the same length-prefixed messages with a minimal parser of its own;
 * 2. request/response round trips (1 KiB each way) with 1 and with 32 requests outstanding,
 *    NetTransport vs a bare `node:net` echo server.
 *
 * `ratio` = framed / bare for each (higher is better; the goal is >= 0.85). The bare baseline is
 * not naive: it corks writes within a tick (one syscall per batch), as a careful hand-written
 * protocol would. Each measurement runs a warm-up first, then is bounded by time and by count.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetTransport } from '../src/transport/net/net-transport.js';
import type { Stream } from '../src/transport/types.js';

/** One side of a message connection, framed or bare. */
interface End {
  send(message: Uint8Array): boolean;
  onMessage(handler: (message: Uint8Array) => void): void;
  drained(): Promise<void>;
}

interface Pair {
  client: End;
  server: End;
  close(): Promise<void>;
}

const MAX_MESSAGES = 50_000_000;
const BURST = 256;

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function streamEnd(s: Stream): End {
  return {
    send: (m) => s.send(m),
    onMessage: (h) => s.onFrame(h),
    drained: () => new Promise<void>((resolve) => s.onDrain(resolve)),
  };
}

async function framedPair(): Promise<Pair> {
  const a = await NetTransport.create({ host: '127.0.0.1', port: 0 });
  const b = await NetTransport.create({ host: '127.0.0.1', port: 0 });
  const accepted = new Promise<Stream>((resolve) => b.onStream(resolve));
  const out = await a.dial(b.localAddress);
  const inb = await accepted;
  return {
    client: streamEnd(out),
    server: streamEnd(inb),
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/**
 * The bare baseline: length-prefixed messages on a raw socket. `corked`: one buffer per message,
 * writes corked per tick (a careful hand-written protocol). `batched`: messages copied into one
 * buffer per tick and written once (the same batching NetTransport does, minus everything else).
 */
function bareEnd(socket: Socket, mode: 'corked' | 'batched'): End {
  socket.setNoDelay(true);
  let handler: (m: Uint8Array) => void = () => {};
  let rest: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    let buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (buf.length - off - 4 < len) break;
      handler(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    rest = off < buf.length ? buf.subarray(off) : undefined;
    buf = Buffer.alloc(0);
  });
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  // A slab written from `start` to `used`; handed-out regions are never reused.
  let batch: Buffer = Buffer.allocUnsafe(256 * 1024);
  let start = 0;
  let used = 0;
  const flush = () => {
    corked = false;
    if (used === start) return;
    socket.write(batch.subarray(start, used));
    start = used;
  };
  const sendBatched = (m: Uint8Array): boolean => {
    if (used + 4 + m.length > batch.length) {
      flush();
      batch = Buffer.allocUnsafe(256 * 1024);
      start = 0;
      used = 0;
    }
    batch.writeUInt32BE(m.length, used);
    batch.set(m, used + 4);
    used += 4 + m.length;
    if (!corked) {
      corked = true;
      process.nextTick(flush);
    }
    return socket.writableLength + used - start < 1024 * 1024;
  };
  return {
    send(m) {
      if (mode === 'batched') return sendBatched(m);
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      const out = Buffer.allocUnsafe(4 + m.length);
      out.writeUInt32BE(m.length, 0);
      out.set(m, 4);
      return socket.write(out);
    },
    onMessage: (h) => {
      handler = h;
    },
    drained: () =>
      new Promise<void>((resolve) => {
        if (socket.writableLength === 0 && used === start) setImmediate(resolve);
        else if (socket.writableNeedDrain) socket.once('drain', resolve);
        else setImmediate(resolve);
      }),
  };
}

async function barePair(mode: 'corked' | 'batched'): Promise<Pair> {
  let serverSocket!: Socket;
  const server: Server = createServer();
  const accepted = new Promise<void>((resolve) =>
    server.on('connection', (s) => {
      serverSocket = s;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const clientSocket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => clientSocket.once('connect', resolve));
  await accepted;
  return {
    client: bareEnd(clientSocket, mode),
    server: bareEnd(serverSocket, mode),
    close: async () => {
      clientSocket.destroy();
      serverSocket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Messages per second, one way, counted at the receiver. */
async function oneWay(pair: Pair, payload: Uint8Array, seconds: number): Promise<number> {
  let received = 0;
  let sent = 0;
  let stopped = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  pair.server.onMessage(() => {
    received++;
    if (stopped && received === sent) finish();
  });
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end && sent < MAX_MESSAGES) {
    let blocked = false;
    for (let i = 0; i < BURST; i++) {
      sent++;
      if (!pair.client.send(payload)) {
        blocked = true;
        break;
      }
    }
    if (blocked) await pair.client.drained();
    else await yieldToIo();
  }
  stopped = true;
  if (received < sent) await finished;
  return sent / ((performance.now() - start) / 1000);
}

/** Round trips per second with `outstanding` requests in flight. */
async function roundTrips(
  pair: Pair,
  payload: Uint8Array,
  outstanding: number,
  seconds: number,
): Promise<number> {
  pair.server.onMessage((m) => pair.server.send(m));
  let completed = 0;
  let inflight = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const start = performance.now();
  const end = start + seconds * 1000;
  pair.client.onMessage(() => {
    completed++;
    if (performance.now() < end && completed < MAX_MESSAGES) pair.client.send(payload);
    else if (--inflight === 0) finish();
  });
  for (let i = 0; i < outstanding; i++, inflight++) pair.client.send(payload);
  await finished;
  return completed / ((performance.now() - start) / 1000);
}

type Measure = (pair: Pair) => Promise<number>;

/** Warm-up then measurement, each on a fresh connection, framed and bare alternately. */
async function compare(label: string, measure: Measure, warmup: Measure): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const [kind, makePair] of [
    ['bare', () => barePair('corked')],
    ['bare_batched', () => barePair('batched')],
    ['framed', framedPair],
  ] as const) {
    const w = await makePair();
    await warmup(w);
    await w.close();
    const pair = await makePair();
    result[kind] = Math.round(await measure(pair));
    await pair.close();
  }
  result.ratio = Math.round((result.framed! / result.bare!) * 1000) / 1000;
  result.ratio_vs_batched = Math.round((result.framed! / result.bare_batched!) * 1000) / 1000;
  process.stderr.write(
    `${label}: framed ${result.framed}/s, bare ${result.bare}/s (ratio ${result.ratio}), ` +
      `bare batched ${result.bare_batched}/s (ratio ${result.ratio_vs_batched})\n`,
  );
  return result;
}

/** Runs the benchmark; returns the figures (printed as JSON by bench/run.ts). */
export async function main(argv: string[]): Promise<object> {
  const seconds = arg(argv, 'seconds', 2);
  const size = arg(argv, 'size', 1024);
  const warm = Math.min(0.5, seconds / 4);
  const payload = new Uint8Array(size).fill(0x5a);
  process.stderr.write(
    `transport bench: ${size}-byte messages, ${seconds} s per measurement, node ${process.version}\n`,
  );
  const oneWayResult = await compare(
    'one-way messages',
    (p) => oneWay(p, payload, seconds),
    (p) => oneWay(p, payload, warm),
  );
  const rr1 = await compare(
    'round trips, 1 outstanding',
    (p) => roundTrips(p, payload, 1, seconds),
    (p) => roundTrips(p, payload, 1, warm),
  );
  const rr32 = await compare(
    'round trips, 32 outstanding',
    (p) => roundTrips(p, payload, 32, seconds),
    (p) => roundTrips(p, payload, 32, warm),
  );
  return {
    message_bytes: size,
    seconds_per_measurement: seconds,
    one_way_messages_per_s: oneWayResult,
    round_trips_per_s_1_outstanding: rr1,
    round_trips_per_s_32_outstanding: rr32,
    goal: 'ratio >= 0.85 (framing costs at most 15%)',
  };
}
