import { CairnError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';

/**
 * Validation of decoded input.
 *
 * Every decoder in Cairn turns `unknown` into a typed value through a {@link Validator} before the
 * value is used. A validator either returns the value (typed) or throws `DECODE_FAILED` with the
 * path of the first bad field. Validators are plain functions, so hot paths pay one call per field
 * and no allocation beyond the result.
 *
 * @example
 * ```ts
 * const Ping = v.object({ type: v.literal('ping'), seq: v.uint(), from: v.string({ maxLength: 64 }) });
 * type Ping = Infer<typeof Ping>;
 * const ping = Ping(decoded); // throws DECODE_FAILED: "$.seq: expected an unsigned integer"
 * ```
 */
export interface Validator<T> {
  (value: unknown, path?: string): T;
  /** Set on validators made by {@link v.optional}: the key may be absent from an object. */
  readonly optional?: true;
}

/** The type a validator produces. */
export type Infer<V> = V extends Validator<infer T> ? T : never;

type Shape = Record<string, Validator<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The object type described by a shape. */
export type ShapeType<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

/** Throws the validation error for `path`. */
export function fail(path: string, expected: string, value?: unknown): never {
  const got =
    value === undefined
      ? 'undefined'
      : value === null
        ? 'null'
        : Array.isArray(value)
          ? 'an array'
          : typeof value;
  throw new CairnError('DECODE_FAILED', `${path}: expected ${expected}, got ${got}`, { details: { path } });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function depthOf(path: string): number {
  let d = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 46 || c === 91) d++; // '.' or '['
  }
  return d;
}

/** Validator constructors. */
export const v = {
  /** Any value, unchecked: use only where the value is opaque to the receiver. */
  unknown(): Validator<unknown> {
    return (value) => value;
  },

  /** A string, optionally bounded in length and matched against a pattern. */
  string(opts: { minLength?: number; maxLength?: number; pattern?: RegExp } = {}): Validator<string> {
    return (value, path = '$') => {
      if (typeof value !== 'string') fail(path, 'a string', value);
      if (opts.maxLength !== undefined && value.length > opts.maxLength) {
        fail(path, `a string of at most ${opts.maxLength} characters (length ${value.length})`, value);
      }
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        fail(path, `a string of at least ${opts.minLength} characters`, value);
      }
      if (opts.pattern !== undefined && !opts.pattern.test(value))
        fail(path, `a string matching ${opts.pattern}`, value);
      return value;
    };
  },

  /** A finite number within optional bounds. */
  number(opts: { min?: number; max?: number; integer?: boolean } = {}): Validator<number> {
    const what = opts.integer ? 'an integer' : 'a finite number';
    return (value, path = '$') => {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, what, value);
      if (opts.integer && !Number.isSafeInteger(value)) fail(path, what, value);
      if (opts.min !== undefined && value < opts.min)
        fail(path, `${what} >= ${opts.min} (got ${value})`, value);
      if (opts.max !== undefined && value > opts.max)
        fail(path, `${what} <= ${opts.max} (got ${value})`, value);
      return value;
    };
  },

  /** A safe integer. */
  int(opts: { min?: number; max?: number } = {}): Validator<number> {
    return v.number({ ...opts, integer: true });
  },

  /** A non-negative safe integer. */
  uint(opts: { max?: number } = {}): Validator<number> {
    return v.number({ ...opts, min: 0, integer: true });
  },

  /** A boolean. */
  boolean(): Validator<boolean> {
    return (value, path = '$') => {
      if (typeof value !== 'boolean') fail(path, 'a boolean', value);
      return value;
    };
  },

  /** A byte array (msgpack `bin`), optionally bounded in length. */
  bytes(opts: { minLength?: number; maxLength?: number } = {}): Validator<Uint8Array> {
    return (value, path = '$') => {
      if (!(value instanceof Uint8Array)) fail(path, 'bytes', value);
      if (opts.maxLength !== undefined && value.length > opts.maxLength) {
        fail(path, `at most ${opts.maxLength} bytes (got ${value.length})`, value);
      }
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        fail(path, `at least ${opts.minLength} bytes (got ${value.length})`, value);
      }
      return value;
    };
  },

  /** Exactly `expected`. */
  literal<const L extends string | number | boolean | null>(expected: L): Validator<L> {
    return (value, path = '$') => {
      if (value !== expected) fail(path, JSON.stringify(expected), value);
      return value as L;
    };
  },

  /** One of the given string or number values. */
  oneOf<const L extends string | number>(values: readonly L[]): Validator<L> {
    const set = new Set<unknown>(values);
    return (value, path = '$') => {
      if (!set.has(value)) fail(path, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, value);
      return value as L;
    };
  },

  /**
   * An array of items, bounded in length (the bound is required: input is hostile). Each item is
   * replaced, in place, by what its validator returns (an object validator's result drops unknown
   * fields; a transforming validator's copy is kept): the input array is the decoder's own.
   */
  array<T>(item: Validator<T>, opts: { maxLength: number; minLength?: number }): Validator<T[]> {
    return (value, path = '$') => {
      if (!Array.isArray(value)) fail(path, 'an array', value);
      if (value.length > opts.maxLength)
        fail(path, `an array of at most ${opts.maxLength} items (got ${value.length})`, value);
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        fail(path, `an array of at least ${opts.minLength} items`, value);
      }
      if (depthOf(path) > DEFAULT_LIMITS.maxValidateDepth) fail(path, 'less deeply nested input', value);
      for (let i = 0; i < value.length; i++) value[i] = item(value[i], `${path}[${i}]`);
      return value as T[];
    };
  },

  /** A fixed-length tuple; items are replaced in place by their validators' results, as in `array`. */
  tuple<const T extends readonly Validator<unknown>[]>(
    ...items: T
  ): Validator<{ [K in keyof T]: Infer<T[K]> }> {
    return (value, path = '$') => {
      if (!Array.isArray(value) || value.length !== items.length)
        fail(path, `a tuple of ${items.length} items`, value);
      for (let i = 0; i < items.length; i++) value[i] = items[i]!(value[i], `${path}[${i}]`);
      return value as { [K in keyof T]: Infer<T[K]> };
    };
  },

  /**
   * An object with the given fields. Unknown fields are ignored (forward compatibility) and are
   * not copied: the result holds exactly the declared fields.
   */
  object<S extends Shape>(shape: S): Validator<ShapeType<S>> {
    const keys = Object.keys(shape);
    return (value, path = '$') => {
      if (!isPlainObject(value)) fail(path, 'an object', value);
      if (depthOf(path) > DEFAULT_LIMITS.maxValidateDepth) fail(path, 'less deeply nested input', value);
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const check = shape[key]!;
        const field = value[key];
        if (field === undefined) {
          if (check.optional) continue;
          fail(`${path}.${key}`, 'a value', field);
        }
        out[key] = check(field, `${path}.${key}`);
      }
      return out as ShapeType<S>;
    };
  },

  /** A string-keyed map with validated values and a bounded number of keys. */
  record<T>(
    value: Validator<T>,
    opts: { maxKeys: number; key?: Validator<string> },
  ): Validator<Record<string, T>> {
    return (input, path = '$') => {
      if (!isPlainObject(input)) fail(path, 'an object', input);
      if (depthOf(path) > DEFAULT_LIMITS.maxValidateDepth) fail(path, 'less deeply nested input', input);
      const entries = Object.entries(input);
      if (entries.length > opts.maxKeys)
        fail(path, `an object of at most ${opts.maxKeys} keys (got ${entries.length})`, input);
      const out: Record<string, T> = {};
      for (const [k, item] of entries) {
        opts.key?.(k, `${path}{key}`);
        out[k] = value(item, `${path}.${k}`);
      }
      return out;
    };
  },

  /** Marks an object field as optional: absent or `undefined` is accepted. */
  optional<T>(inner: Validator<T>): Validator<T> & { optional: true } {
    const check = ((value: unknown, path = '$') => inner(value, path)) as Validator<T> & { optional: true };
    Object.defineProperty(check, 'optional', { value: true });
    return check;
  },

  /** `null` or the inner type. */
  nullable<T>(inner: Validator<T>): Validator<T | null> {
    return (value, path = '$') => (value === null ? null : inner(value, path));
  },

  /**
   * A discriminated union: reads `tag` and validates with the matching variant.
   *
   * @example
   * ```ts
   * const Msg = v.tagged('type', { ping: PingV, ack: AckV });
   * ```
   */
  tagged<K extends string, M extends Record<string, Validator<unknown>>>(
    tag: K,
    variants: M,
  ): Validator<Infer<M[keyof M]>> {
    const names = Object.keys(variants);
    return (value, path = '$') => {
      if (!isPlainObject(value)) fail(path, 'an object', value);
      const t = value[tag];
      if (typeof t !== 'string' || !Object.hasOwn(variants, t))
        fail(`${path}.${tag}`, `one of ${names.join(', ')}`, t);
      return variants[t]!(value, path) as Infer<M[keyof M]>;
    };
  },
};
