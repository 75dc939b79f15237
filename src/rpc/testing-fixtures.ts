import { CairnError, type Deferred, deferred, isErrorCode, v } from '../core/index.js';

import { RpcChannel } from './channel.js';
import type { RpcLimits } from './limits.js';
import { defineMethod, type HandlerContext } from './method.js';
import { RpcServer } from './server.js';
import { ManualClock, type MemoryStream, memoryStreamPair } from './testing.js';

/** Shared methods and a client/server pair for the channel tests. */

export const Echo = defineMethod(
  'test.echo',
  v.object({ text: v.string({ maxLength: 10_000 }) }),
  v.object({ text: v.string() }),
);

/** Waits until the test releases it by key (or its signal aborts); answers `{ key }`. */
export const Wait = defineMethod('test.wait', v.object({ key: v.uint() }), v.object({ key: v.uint() }));

/** Throws a CairnError with the given code, or a foreign error when `code` is `foreign`. */
export const Fail = defineMethod(
  'test.fail',
  v.object({ code: v.string(), message: v.string() }),
  v.unknown(),
);

/** Returns a string of `size` characters. */
export const Big = defineMethod('test.big', v.object({ size: v.uint() }), v.string());

/** A connected client channel and served channel with the test methods registered. */
export interface Pair {
  clock: ManualClock;
  serverClock: ManualClock;
  clientStream: MemoryStream;
  serverStream: MemoryStream;
  client: RpcChannel;
  served: RpcChannel;
  server: RpcServer;
  /** Handler contexts of `test.wait` by key, in arrival order. */
  waits: Map<number, { ctx: HandlerContext; done: Deferred<void> }>;
}

/** Options of {@link makePair}. */
export interface PairOptions {
  limits?: Partial<RpcLimits>;
  serverLimits?: Partial<RpcLimits>;
  /** Give the server its own clock (start reading in ms); default: share the client's. */
  serverClockStart?: number;
  maxBufferBytes?: number;
}

/** Builds a {@link Pair}. */
export function makePair(options: PairOptions = {}): Pair {
  const clock = new ManualClock();
  const serverClock =
    options.serverClockStart === undefined ? clock : new ManualClock(options.serverClockStart);
  const [clientStream, serverStream] = memoryStreamPair(
    options.maxBufferBytes === undefined ? {} : { maxBufferBytes: options.maxBufferBytes, highWaterBytes: 1 },
  );
  const server = new RpcServer({
    clock: serverClock,
    ...(options.serverLimits ? { limits: options.serverLimits } : {}),
  });
  const waits = new Map<number, { ctx: HandlerContext; done: Deferred<void> }>();
  server.handle(Echo, (req) => ({ text: req.text }));
  server.handle(Wait, async (req, ctx) => {
    const done = deferred<void>();
    waits.set(req.key, { ctx, done });
    await done.promise;
    return { key: req.key };
  });
  server.handle(Fail, (req) => {
    if (req.code === 'foreign') throw new TypeError(`secret ${req.message}`);
    if (!isErrorCode(req.code)) throw new Error('bad test code');
    throw new CairnError(req.code, req.message, { details: { secret: 'do not send' } });
  });
  server.handle(Big, (req) => 'x'.repeat(req.size));
  const served = server.serve(serverStream);
  const client = new RpcChannel(clientStream, {
    clock,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  return {
    clock,
    serverClock: serverClock as ManualClock,
    clientStream,
    serverStream,
    client,
    served,
    server,
    waits,
  };
}

/** The rejection of `promise` (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<CairnError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CairnError) return err;
    throw new Error(`expected a CairnError, got ${String(err)}`);
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Tracks whether a promise has settled, without awaiting it. */
export function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { settled: () => done, promise };
}
