import { CairnError, describeError, type Logger } from '../core/index.js';
import type { MembershipEvent, MembershipEventType } from './types.js';

/**
 * Membership events, as callbacks and as async iterators.
 *
 * Contract: events are published in the order the protocol produced them, synchronously to
 * callbacks (a throwing callback is logged and counted; it never stops delivery to the others or
 * breaks the protocol), and queued for iterators. Each iterator buffers at most `bufferSize`
 * events; one that falls further behind is ended with a `LIMIT_EXCEEDED` error rather than
 * growing without bound or silently skipping events.
 */

/** Handler of one event type. */
export type EventHandler<T extends MembershipEventType> = (
  event: Extract<MembershipEvent, { type: T }>,
) => void;

/** Options of {@link EventHub.iterate}. */
export interface IterateOptions {
  /** Only these event types; default all. */
  types?: readonly MembershipEventType[];
  /** Events buffered before the iterator is ended with `LIMIT_EXCEEDED`; default 10,000. */
  bufferSize?: number;
  /** Ends the iterator (it returns `done`) when aborted. */
  signal?: AbortSignal;
}

interface Subscriber {
  readonly types: ReadonlySet<MembershipEventType> | undefined;
  readonly buffer: MembershipEvent[];
  readonly bufferSize: number;
  wake: (() => void) | undefined;
  error: CairnError | undefined;
  done: boolean;
}

/** Default iterator buffer: enough for a 10,000-node cluster to join at once. */
export const DEFAULT_EVENT_BUFFER = 10_000;

/** Fans events out to callbacks and async iterators. */
export class EventHub {
  /** Callbacks that threw (each logged). */
  handlerErrors = 0;
  private readonly handlers = new Map<MembershipEventType, Set<(event: MembershipEvent) => void>>();
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  /**
   * Calls `handler` for every event of `type` until the returned function is called.
   *
   * @example
   * ```ts
   * const off = hub.on('dead', (e) => console.log('dead:', e.member.name));
   * ```
   */
  on<T extends MembershipEventType>(type: T, handler: EventHandler<T>): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(type, set);
    }
    const h = handler as (event: MembershipEvent) => void;
    set.add(h);
    return () => set.delete(h);
  }

  /** An async iterator over events from now on; see {@link IterateOptions}. */
  iterate(options: IterateOptions = {}): AsyncIterableIterator<MembershipEvent> {
    const bufferSize = options.bufferSize ?? DEFAULT_EVENT_BUFFER;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) {
      throw new CairnError('INVALID_ARGUMENT', `bufferSize must be a positive integer, got ${bufferSize}`);
    }
    const sub: Subscriber = {
      types: options.types === undefined ? undefined : new Set(options.types),
      buffer: [],
      bufferSize,
      wake: undefined,
      error: undefined,
      done: this.closed,
    };
    this.subscribers.add(sub);
    const finish = () => {
      sub.done = true;
      this.subscribers.delete(sub);
      sub.wake?.();
    };
    options.signal?.addEventListener('abort', finish, { once: true });
    const next = async (): Promise<IteratorResult<MembershipEvent>> => {
      for (;;) {
        const event = sub.buffer.shift();
        if (event !== undefined) return { value: event, done: false };
        if (sub.error !== undefined) {
          const err = sub.error;
          sub.error = undefined;
          sub.done = true;
          throw err;
        }
        if (sub.done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => {
          sub.wake = resolve;
        });
        sub.wake = undefined;
      }
    };
    const iterator: AsyncIterableIterator<MembershipEvent> = {
      next,
      return: async () => {
        finish();
        sub.buffer.length = 0;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Publishes one event to callbacks and iterators. */
  publish(event: MembershipEvent): void {
    const set = this.handlers.get(event.type);
    if (set !== undefined) {
      for (const handler of set) {
        try {
          handler(event);
        } catch (err) {
          this.handlerErrors++;
          this.logger.error({ err: describeError(err), event: event.type }, 'membership event handler threw');
        }
      }
    }
    for (const sub of this.subscribers) {
      if (sub.types !== undefined && !sub.types.has(event.type)) continue;
      if (sub.buffer.length >= sub.bufferSize) {
        sub.error = new CairnError(
          'LIMIT_EXCEEDED',
          `membership event iterator fell ${sub.bufferSize} events behind and was ended`,
        );
        this.subscribers.delete(sub);
      } else {
        sub.buffer.push(event);
      }
      sub.wake?.();
    }
  }

  /** Ends every iterator (after their buffered events) and drops every callback. */
  close(): void {
    this.closed = true;
    this.handlers.clear();
    for (const sub of this.subscribers) {
      sub.done = true;
      sub.wake?.();
    }
    this.subscribers.clear();
  }
}
