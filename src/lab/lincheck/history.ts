import { CairnError } from '../../core/errors.js';
import { checkLimit } from '../../core/limits.js';
import { DEFAULT_LIMITS } from './limits.js';
import { UNKNOWN, type Unknown } from './model.js';

/**
 * One completed entry of a history, as the checker reads it.
 *
 * `call` and `ret` are timestamps on one monotonic scale: the operation took effect, if at all,
 * at some instant in [call, ret]. An operation whose completion is unknown has `ret = Infinity`
 * and `output = UNKNOWN`: it may take effect at any time after its call, or never.
 */
export interface Operation<Input, Output> {
  /** Unique within a history; the recorder numbers operations 0, 1, 2, ... */
  readonly id: number;
  /** Who issued it (for reports only: the checker orders operations by time alone). */
  readonly clientId: number;
  readonly input: Input;
  readonly call: number;
  readonly ret: number;
  readonly output: Output | Unknown;
}

/** Options of {@link HistoryRecorder}. */
export interface HistoryRecorderOptions {
  /**
   * Where timestamps come from; must never decrease. Default: a counter that increases by one per
   * event, which orders events exactly as the recorder saw them (safe for one thread; with an
   * injected clock, equal timestamps count as concurrent).
   */
  now?: () => number;
  /** Default {@link DEFAULT_LIMITS}.maxOperations. */
  maxOperations?: number;
}

type Pending<I> = { readonly clientId: number; readonly input: I; readonly call: number };

/**
 * Records a concurrent history as clients run: `invoke` before sending a request, then exactly one
 * of `ok` (the answer came back), `fail` (it definitely did not take effect: refused before
 * reaching the store, or a definite error) or `info` (unknown: a timeout, a lost connection, a
 * crash). Operations still pending when the history is read count as `info`.
 *
 * Contract: completing an unknown or already completed operation throws `INVALID_ARGUMENT`;
 * more than `maxOperations` invocations throw `LIMIT_EXCEEDED`.
 *
 * @example
 * ```ts
 * const h = new HistoryRecorder<KvInput, KvOutput>();
 * const id = h.invoke(1, { type: 'put', key: 'a', value: '1' });
 * await client.put('a', '1').then(() => h.ok(id, { type: 'put' }), () => h.info(id));
 * const result = checkHistory(kvModel, h.operations());
 * ```
 */
export class HistoryRecorder<Input, Output> {
  private readonly now: () => number;
  private readonly maxOperations: number;
  private counter = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending<Input>>();
  private readonly done: Operation<Input, Output>[] = [];

  constructor(options: HistoryRecorderOptions = {}) {
    this.now = options.now ?? (() => ++this.counter);
    this.maxOperations = options.maxOperations ?? DEFAULT_LIMITS.maxOperations;
  }

  /** Records a call; returns the operation's id for `ok`, `fail` or `info`. */
  invoke(clientId: number, input: Input): number {
    checkLimit('maxOperations', this.nextId + 1, this.maxOperations, 'operations recorded');
    const id = this.nextId++;
    this.pending.set(id, { clientId, input, call: this.now() });
    return id;
  }

  /** The operation completed with `output`. */
  ok(opId: number, output: Output): void {
    const p = this.take(opId);
    this.done.push({ id: opId, clientId: p.clientId, input: p.input, call: p.call, ret: this.now(), output });
  }

  /** The operation definitely did not take effect; it is left out of the history. */
  fail(opId: number): void {
    this.take(opId);
  }

  /** The operation's outcome is unknown: it may take effect at any time after its call, or never. */
  info(opId: number): void {
    const p = this.take(opId);
    this.done.push(unknownOperation(opId, p));
  }

  /**
   * Records one call around `run`: `invoke`, then `ok` with its result, or, when it throws,
   * `fail` or `info` as `classify` says (default `info`: an error says nothing about whether a
   * write took effect, unless the caller knows it was refused before reaching the store). The
   * error is rethrown.
   *
   * @example
   * ```ts
   * await h.record(1, { type: 'get', key: 'a' }, async () => ({ type: 'get', value: await read('a') }));
   * ```
   */
  async record(
    clientId: number,
    input: Input,
    run: () => Promise<Output>,
    classify: (err: unknown) => 'fail' | 'info' = () => 'info',
  ): Promise<Output> {
    const id = this.invoke(clientId, input);
    let output: Output;
    try {
      output = await run();
    } catch (err) {
      this[classify(err)](id);
      throw err;
    }
    this.ok(id, output);
    return output;
  }

  /** Every operation not failed, in id order; pending ones as `info`. */
  operations(): Operation<Input, Output>[] {
    const all = [...this.done];
    for (const [id, p] of this.pending) all.push(unknownOperation(id, p));
    return all.sort((a, b) => a.id - b.id);
  }

  /** Operations invoked and not yet completed. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private take(opId: number): Pending<Input> {
    const p = this.pending.get(opId);
    if (p === undefined) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `operation ${opId} is not pending (unknown or already completed)`,
      );
    }
    this.pending.delete(opId);
    return p;
  }
}

function unknownOperation<I, O>(id: number, p: Pending<I>): Operation<I, O> {
  return {
    id,
    clientId: p.clientId,
    input: p.input,
    call: p.call,
    ret: Number.POSITIVE_INFINITY,
    output: UNKNOWN,
  };
}
