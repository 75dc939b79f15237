/**
 * A transport whose handlers run in one intern scope (`src/membership/intern.ts`), so a node of the
 * membership benchmark verifies and decodes what it receives itself, as it would alone in its
 * process, although every node shares one process.
 *
 * Why an adapter: the scope follows the async context, and Node keeps it for UDP sockets, timers,
 * promises and dialed TCP sockets created inside the scope, but not for the data of a TCP socket
 * a server accepted (Node 20: its handle's callbacks run with no context). Without this, a node's
 * side of every inbound stream (push-pull as listener, TCP fallback pings) would intern in the
 * process scope, shared with every other node. Used by `bench/_membership-cluster.ts`; skipped
 * by the bench runner (the name starts with `_`).
 */
import { type InternScope, runInInternScope } from '../src/membership/intern.js';
import type { Stream, Transport } from '../src/transport/types.js';

/** `handler`, run in `scope` whenever it is called. */
function inScope<A extends unknown[]>(
  scope: InternScope,
  handler: (...args: A) => void,
): (...args: A) => void {
  return (...args) => runInInternScope(scope, () => handler(...args));
}

/**
 * `inner` seen through `overrides`: every other property is `inner`'s, its methods bound to it
 * (so getters and state stay the inner object's own).
 */
function overlay<T extends object>(inner: T, overrides: Partial<T>): T {
  return new Proxy(inner, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `inner` with its frame, drain and close handlers run in `scope`. */
function scopedStream(inner: Stream, scope: InternScope): Stream {
  return overlay<Stream>(inner, {
    onFrame: (handler) => inner.onFrame(inScope(scope, handler)),
    onDrain: (handler) => inner.onDrain(inScope(scope, handler)),
    onClose: (handler) => inner.onClose(inScope(scope, handler)),
  });
}

/**
 * `inner` with every handler (packets, inbound and dialed streams) run in `scope`.
 *
 * @example
 * ```ts
 * const scope = new InternScope('n1');
 * const transport = scopedTransport(await NetTransport.create(options), scope);
 * ```
 */
export function scopedTransport(inner: Transport, scope: InternScope): Transport {
  return overlay<Transport>(inner, {
    onPacket: (handler) => inner.onPacket(inScope(scope, handler)),
    onStream: (handler) =>
      inner.onStream(inScope(scope, (stream: Stream) => handler(scopedStream(stream, scope)))),
    dial: async (to, options) => scopedStream(await inner.dial(to, options), scope),
  });
}
