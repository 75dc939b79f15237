/** A promise with its resolve and reject exposed (`Promise.withResolvers`, which Node 20 lacks). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/**
 * Makes a {@link Deferred}.
 *
 * @example
 * ```ts
 * const d = deferred<number>();
 * setTimeout(() => d.resolve(1), 10);
 * await d.promise; // 1
 * ```
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
