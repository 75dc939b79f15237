import type { Clock, TimerHandle } from '../../core/clock.js';
import { CairnError } from '../../core/errors.js';
import { KvError } from '../errors.js';
import type { Consistency } from '../types.js';
import { ClientConnection, type CommandArg } from './connection.js';
import { UnsentError } from './errors.js';
import type { KvClientLimits } from './limits.js';
import type { Reply } from './reply-reader.js';

/**
 * The connections of one client to one node, grouped in lanes by consistency pair.
 *
 * Consistency: the front end keeps a read and a write level per connection (`CAIRN
 * CONSISTENCY`). A lane is the set of connections opened with one (read, write) pair, set once
 * in the connection's setup; a call runs on the lane of its levels. So a command never depends
 * on an earlier command of the same connection, and pipelining needs no extra round trips. A
 * client that keeps its default levels uses one lane per node.
 *
 * Contract:
 * - A lane holds at most `connectionsPerLevel` connections, each with at most
 *   `maxInFlightPerConnection` commands unanswered; more calls wait in the node's queue, at most
 *   `maxQueuedPerNode` (past it: UnsentError at once).
 * - A call's `deadline` covers its wait in the queue and its reply. A queued call past it
 *   rejects TIMEOUT unsent; a sent one rejects TIMEOUT, and its connection is closed (a reply
 *   overdue that long means the connection or the node is stuck; the other commands on it reject
 *   TIMEOUT as well). An aborted call rejects CANCELLED; if sent, its reply is dropped.
 * - A connection that cannot be opened fails every call queued on its lane with the
 *   {@link UnsentError} and reports the node unreachable through `onUnreachable`.
 */

/** Options of a {@link NodePool}. */
export interface NodePoolOptions {
  readonly host: string;
  readonly port: number;
  /** How errors name the node. */
  readonly label: string;
  /** Capability token sent with AUTH on every new connection. */
  readonly token?: string | undefined;
  readonly connectTimeoutMs: number;
  readonly limits: KvClientLimits;
  readonly clock: Clock;
  /** Called when a connection to the node could not be opened. */
  readonly onUnreachable?: (err: Error) => void;
}

/** One call's timing. */
export interface CallOptions {
  /** Clock time (ms) by which the reply must have arrived. */
  readonly deadline: number;
  readonly signal?: AbortSignal | undefined;
}

interface Job {
  readonly args: readonly CommandArg[];
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
  readonly lane: Lane;
  readonly signal: AbortSignal | undefined;
  connection: ClientConnection | undefined;
  done: boolean;
  timer: TimerHandle | undefined;
  onAbort: (() => void) | undefined;
}

interface Lane {
  readonly read: Consistency;
  readonly write: Consistency;
  readonly connections: ClientConnection[];
  opening: number;
  readonly queue: Job[];
}

/** The connections to one node; see the module comment. */
export class NodePool {
  private readonly lanes = new Map<string, Lane>();
  private queued = 0;
  private closed = false;

  constructor(private readonly options: NodePoolOptions) {}

  /** Calls waiting for a connection slot. */
  get queuedCalls(): number {
    return this.queued;
  }

  /** Open connections, all lanes. */
  get openConnections(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.connections.length;
    return n;
  }

  /**
   * Runs one command on a connection whose levels are `read`/`write`; resolves with its reply
   * (an error reply is a value). Rejections: {@link UnsentError} (the command never left),
   * KvError TIMEOUT, CairnError CANCELLED.
   */
  call(
    read: Consistency,
    write: Consistency,
    args: readonly CommandArg[],
    options: CallOptions,
  ): Promise<Reply> {
    if (this.closed)
      return Promise.reject(new UnsentError(`the client's pool for ${this.options.label} is closed`));
    if (this.queued >= this.options.limits.maxQueuedPerNode)
      return Promise.reject(
        new UnsentError(
          `${this.queued} calls already wait for ${this.options.label} (maxQueuedPerNode=${this.options.limits.maxQueuedPerNode})`,
        ),
      );
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(cancelled());
    const lane = this.lane(read, write);
    return new Promise<Reply>((resolve, reject) => {
      const job: Job = {
        args,
        resolve,
        reject,
        lane,
        signal,
        connection: undefined,
        done: false,
        timer: undefined,
        onAbort: undefined,
      };
      const wait = Math.max(0, options.deadline - this.options.clock.now());
      job.timer = this.options.clock.setTimer(wait, () => this.expire(job, wait));
      if (signal !== undefined) {
        job.onAbort = () => this.settle(job, cancelled());
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      lane.queue.push(job);
      this.queued++;
      this.pump(lane);
    });
  }

  /** Closes every connection; queued calls reject unsent, sent ones TIMEOUT. */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const job of lane.queue.splice(0)) {
        this.queued--;
        this.settle(job, new UnsentError(`the client closed before the call reached ${this.options.label}`));
      }
      for (const c of lane.connections.splice(0)) c.destroy('closed by the client');
    }
  }

  private lane(read: Consistency, write: Consistency): Lane {
    const key = `${read}/${write}`;
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { read, write, connections: [], opening: 0, queue: [] };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Moves queued calls onto connections with free slots, opening connections as needed. */
  private pump(lane: Lane): void {
    const limits = this.options.limits;
    while (lane.queue.length > 0) {
      let best: ClientConnection | undefined;
      for (const c of lane.connections)
        if (c.isOpen && (best === undefined || c.inFlight < best.inFlight)) best = c;
      const canOpen = lane.connections.length + lane.opening < limits.connectionsPerLevel;
      if (canOpen && (best === undefined || best.inFlight > 0)) this.open(lane);
      if (best === undefined || best.inFlight >= limits.maxInFlightPerConnection) return;
      const job = lane.queue.shift()!;
      this.queued--;
      if (job.done) continue;
      this.send(job, best);
    }
  }

  private send(job: Job, connection: ClientConnection): void {
    job.connection = connection;
    connection.send(job.args).then(
      (reply) => {
        if (!job.done) {
          job.done = true;
          this.clear(job);
          job.resolve(reply);
        }
        this.pump(job.lane);
      },
      (err: Error) => {
        this.settle(job, err);
        this.pump(job.lane);
      },
    );
  }

  private open(lane: Lane): void {
    if (this.closed) return;
    lane.opening++;
    const setup: CommandArg[][] = [];
    if (this.options.token !== undefined) setup.push(['AUTH', this.options.token]);
    setup.push(['CAIRN', 'CONSISTENCY', 'READ', lane.read, 'WRITE', lane.write]);
    ClientConnection.open({
      host: this.options.host,
      port: this.options.port,
      label: this.options.label,
      connectTimeoutMs: this.options.connectTimeoutMs,
      setup,
      limits: this.options.limits,
      clock: this.options.clock,
      onClose: (c) => {
        // Only an established connection is in the lane; one that failed its setup is handled
        // below (reopening it here would retry a refused token without end).
        const i = lane.connections.indexOf(c);
        if (i < 0) return;
        lane.connections.splice(i, 1);
        this.pump(lane);
      },
    }).then(
      (connection) => {
        lane.opening--;
        if (this.closed) {
          connection.destroy('closed by the client');
          return;
        }
        lane.connections.push(connection);
        this.pump(lane);
      },
      (err: Error) => {
        lane.opening--;
        // Calls wait for this connection only when no other is open: fail them, so the client
        // routes them elsewhere instead of reconnecting to a node that is gone.
        if (lane.connections.length === 0 && lane.opening === 0) {
          for (const job of lane.queue.splice(0)) {
            this.queued--;
            this.settle(job, err);
          }
        }
        this.options.onUnreachable?.(err);
      },
    );
  }

  private expire(job: Job, waitedMs: number): void {
    if (job.done) return;
    const connection = job.connection;
    if (connection === undefined) {
      this.settle(
        job,
        new KvError(
          'TIMEOUT',
          `the call waited ${Math.round(waitedMs)} ms for a connection to ${this.options.label} and was not sent`,
        ),
      );
      return;
    }
    this.settle(
      job,
      new KvError(
        'TIMEOUT',
        `${this.options.label} did not answer within ${Math.round(waitedMs)} ms; the command may or may not have run`,
      ),
    );
    connection.destroy(`did not answer a command in ${Math.round(waitedMs)} ms`);
  }

  private settle(job: Job, err: Error): void {
    if (job.done) return;
    job.done = true;
    this.clear(job);
    if (job.connection === undefined) {
      const i = job.lane.queue.indexOf(job);
      if (i >= 0) {
        job.lane.queue.splice(i, 1);
        this.queued--;
      }
    }
    job.reject(err);
  }

  private clear(job: Job): void {
    if (job.timer !== undefined) this.options.clock.cancel(job.timer);
    job.timer = undefined;
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    job.onAbort = undefined;
  }
}

function cancelled(): CairnError {
  return new CairnError('CANCELLED', 'the kv call was cancelled');
}
