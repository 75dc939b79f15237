/**
 * A binary min-heap under a caller's order: the structure under every deadline queue (the SWIM
 * core's keyed timers, the etcd API's call deadlines). Callers that cancel entries lazily keep
 * them here and drop them as they surface, or {@link retain} the live ones when the dead outnumber
 * them.
 *
 * Contract: `pop` returns the least item by `before` (a strict order: `before(a, b)` and
 * `before(b, a)` are never both true); with a total order, the sequence popped does not depend on
 * the order of pushes or on a `retain`.
 */
export class MinHeap<T> {
  private items: T[] = [];

  /** @param before - true when `a` comes out before `b` */
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  /** Items held. */
  get size(): number {
    return this.items.length;
  }

  /** The least item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  /** Removes and returns the least item, or undefined when empty. */
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) this.siftDown(0, last!);
    return top;
  }

  /** Keeps only the items `keep` accepts, re-ordered in linear time. */
  retain(keep: (item: T) => boolean): void {
    const h = this.items;
    let n = 0;
    for (let i = 0; i < h.length; i++) {
      const item = h[i]!;
      if (keep(item)) h[n++] = item;
    }
    h.length = n;
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i]!);
  }

  /** Drops every item. */
  clear(): void {
    this.items = [];
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }

  /** Places `item` at `i` or below, moving lesser children up. */
  private siftDown(i: number, item: T): void {
    const h = this.items;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
      if (!this.before(h[c]!, item)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = item;
  }
}
