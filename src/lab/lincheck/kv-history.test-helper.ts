import type { Operation } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';
import { UNKNOWN } from './model.js';

/** A terse way to write a KV history in tests. */
export class KvHistoryBuilder {
  private readonly ops: Operation<KvInput, KvOutput>[] = [];

  private add(
    clientId: number,
    input: KvInput,
    call: number,
    ret: number,
    output: KvOutput | typeof UNKNOWN,
  ) {
    this.ops.push({ id: this.ops.length, clientId, input, call, ret, output });
    return this;
  }

  put(c: number, key: string, value: string, call: number, ret: number, revision?: number) {
    return this.add(
      c,
      { type: 'put', key, value },
      call,
      ret,
      revision === undefined ? { type: 'put' } : { type: 'put', revision },
    );
  }

  get(c: number, key: string, value: string | null, call: number, ret: number, modRevision?: number) {
    return this.add(
      c,
      { type: 'get', key },
      call,
      ret,
      modRevision === undefined ? { type: 'get', value } : { type: 'get', value, modRevision },
    );
  }

  del(c: number, key: string, deleted: number, call: number, ret: number) {
    return this.add(c, { type: 'delete', key }, call, ret, { type: 'delete', deleted });
  }

  casValue(
    c: number,
    key: string,
    expect: string,
    value: string,
    succeeded: boolean,
    call: number,
    ret: number,
  ) {
    return this.add(c, { type: 'cas', key, compare: { value: expect }, value }, call, ret, {
      type: 'cas',
      succeeded,
    });
  }

  casRevision(
    c: number,
    key: string,
    modRevision: number,
    value: string,
    succeeded: boolean,
    call: number,
    ret: number,
  ) {
    return this.add(c, { type: 'cas', key, compare: { modRevision }, value }, call, ret, {
      type: 'cas',
      succeeded,
    });
  }

  /** An operation whose outcome is unknown: return at infinity. */
  info(c: number, input: KvInput, call: number) {
    return this.add(c, input, call, Number.POSITIVE_INFINITY, UNKNOWN);
  }

  build(): Operation<KvInput, KvOutput>[] {
    return [...this.ops];
  }
}
