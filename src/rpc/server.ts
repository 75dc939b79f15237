import { CairnError, type Clock, type Logger, withLimits } from '../core/index.js';
import type { Stream, Transport } from '../transport/types.js';
import { RpcChannel, type RpcChannelOptions } from './channel.js';
import { DEFAULT_LIMITS, type RpcLimits } from './limits.js';
import type { Handler, MethodTable, RegisteredMethod, RpcMethod } from './method.js';

/** Options of an {@link RpcServer}; they apply to every channel it serves. */
export interface RpcServerOptions {
  /** Clock for deadlines; default the system clock. */
  clock?: Clock;
  /** Overrides of {@link DEFAULT_LIMITS} for the channels this server serves. */
  limits?: Partial<RpcLimits>;
  /** Deadline of calls the server makes back to a peer over a served channel; default 30 s. */
  defaultDeadlineMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
  /** Called with each channel the server starts serving (to call the peer back, or watch it). */
  onChannel?: (channel: RpcChannel) => void;
}

/**
 * A method registry that serves streams.
 *
 * Register handlers with {@link handle}; serve a stream with {@link serve}, or every stream a
 * transport accepts with {@link listen}. The server is also the {@link MethodTable} that an
 * `RpcClient` or a bare `RpcChannel` uses to answer calls from the peer on its own streams.
 *
 * Contract: a handler sees only requests that passed its method's request validator. Handlers may
 * be registered while serving; a request for a method not (yet) registered gets
 * RPC_UNKNOWN_METHOD. After {@link close}, served channels are closed and new streams are refused.
 *
 * @example
 * ```ts
 * const server = new RpcServer({ clock });
 * server.handle(Echo, async (req, { signal }) => ({ text: req.text }));
 * server.listen(transport);
 * ```
 */
export class RpcServer implements MethodTable {
  /** The limits of served channels. */
  readonly limits: RpcLimits;
  private readonly methods = new Map<string, RegisteredMethod>();
  private readonly served = new Set<RpcChannel>();
  private readonly channelOptions: RpcChannelOptions;
  private closed = false;

  /**
   * @param options - see {@link RpcServerOptions}
   * @throws CairnError `INVALID_CONFIG` for a bad limit
   */
  constructor(private readonly options: RpcServerOptions = {}) {
    this.limits = withLimits(DEFAULT_LIMITS, options.limits);
    const { clock, defaultDeadlineMs, logger } = options;
    this.channelOptions = {
      methods: this,
      limits: this.limits,
      ...(clock === undefined ? {} : { clock }),
      ...(defaultDeadlineMs === undefined ? {} : { defaultDeadlineMs }),
      ...(logger === undefined ? {} : { logger }),
    };
  }

  /**
   * Registers the handler of `method`.
   *
   * @param method - the method descriptor; its request validator guards the handler
   * @param handler - serves the method
   * @returns this server, for chaining
   * @throws CairnError `INVALID_ARGUMENT` when the name is already registered or too long
   */
  handle<Req, Res>(method: RpcMethod<Req, Res>, handler: Handler<Req, Res>): this {
    const { name } = method;
    if (name.length === 0 || name.length > this.limits.maxMethodNameLength) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `method name "${name}" must have 1 to ${this.limits.maxMethodNameLength} characters`,
      );
    }
    if (this.methods.has(name))
      throw new CairnError('INVALID_ARGUMENT', `method "${name}" is already registered`);
    // Type erasure at the table: the request validator guarantees the handler gets a Req.
    this.methods.set(name, { method, handler } as unknown as RegisteredMethod);
    return this;
  }

  /** The registered method called `name`, or undefined. */
  lookup(name: string): RegisteredMethod | undefined {
    return this.methods.get(name);
  }

  /** Channels being served now. */
  get channels(): ReadonlySet<RpcChannel> {
    return this.served;
  }

  /**
   * Serves one stream: its requests go to this server's handlers.
   *
   * @param stream - an open stream (inbound, or one this node dialled)
   * @returns the channel, which can also call the peer
   * @throws CairnError `CLOSED` after {@link close} (the stream is destroyed first)
   */
  serve(stream: Stream): RpcChannel {
    if (this.closed) {
      const error = new CairnError('CLOSED', 'the rpc server is closed');
      stream.destroy(error);
      throw error;
    }
    const channel = new RpcChannel(stream, this.channelOptions);
    this.served.add(channel);
    void channel.closed.then(() => this.served.delete(channel));
    this.options.onChannel?.(channel);
    return channel;
  }

  /**
   * Serves every stream `transport` accepts from now on. This sets the transport's stream handler;
   * a node that shares one transport between bricks dispatches streams itself and calls
   * {@link serve}.
   */
  listen(transport: Transport): void {
    transport.onStream((stream) => {
      if (this.closed) {
        stream.destroy(new CairnError('CLOSED', 'the rpc server is closed'));
        return;
      }
      this.serve(stream);
    });
  }

  /** Closes every served channel and refuses new streams. Idempotent. */
  close(): void {
    this.closed = true;
    for (const channel of [...this.served]) channel.close();
    this.served.clear();
  }
}
