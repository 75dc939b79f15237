import type { Rng } from '../../../core/index.js';

/**
 * The keys of a store run, Jepsen's "independent keys": a few keys are in use at once, and a key
 * that has had `opsPerKey` operations is retired for a fresh one. Clients collide on the active
 * keys, which is what tests the store, while each key's history (the unit the checker searches)
 * stays short however long the run is.
 */
export class KeySpace {
  private readonly active: { key: string; ops: number }[] = [];
  private next = 0;
  /** Every key handed out so far, in order. */
  readonly all: string[] = [];

  /**
   * @param activeKeys - keys in use at once
   * @param opsPerKey - operations a key gets before it is retired
   */
  constructor(
    activeKeys: number,
    private readonly opsPerKey: number,
  ) {
    for (let i = 0; i < activeKeys; i++) this.active.push({ key: this.fresh(), ops: 0 });
  }

  /** The key of the next operation, drawn with `rng` among the active ones. */
  pick(rng: Rng): string {
    const slot = rng.int(this.active.length);
    const entry = this.active[slot]!;
    entry.ops++;
    if (entry.ops >= this.opsPerKey) this.active[slot] = { key: this.fresh(), ops: 0 };
    return entry.key;
  }

  private fresh(): string {
    const key = `lab/k${String(this.next++).padStart(6, '0')}`;
    this.all.push(key);
    return key;
  }
}
