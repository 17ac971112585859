/**
 * A map for the scratch of one pass on the analytics' hot path (the names one reading changed, the
 * values one rule reads, the derived values of one pass by time): reused, emptied in O(1) without
 * allocating (Map#clear allocates a new hash table every time, which made clearing a scratch Map
 * per reading one of the analytics' largest costs), and searched linearly while small — the usual
 * case, a handful of entries. Past `LINEAR_MAX` entries an index Map takes over, so a reading with
 * hundreds of values is not quadratic.
 */
const LINEAR_MAX = 16;

export class ScratchMap<K, V> {
  private readonly keys: K[] = [];
  private readonly vals: V[] = [];
  private n = 0;
  /** Key → position, kept only while the scratch holds more than LINEAR_MAX entries. */
  private index: Map<K, number> | undefined;

  get size(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
    this.index = undefined;
  }

  get(key: K): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.vals[i];
  }

  has(key: K): boolean {
    return this.find(key) >= 0;
  }

  set(key: K, value: V): void {
    const i = this.find(key);
    if (i >= 0) {
      this.vals[i] = value;
      return;
    }
    this.keys[this.n] = key;
    this.vals[this.n] = value;
    if (this.index !== undefined) this.index.set(key, this.n);
    else if (this.n === LINEAR_MAX) {
      this.index = new Map();
      for (let j = 0; j <= this.n; j++) this.index.set(this.keys[j] as K, j);
    }
    this.n++;
  }

  /** The i-th entry's key (0 ≤ i < size, in the order first set). */
  keyAt(i: number): K {
    return this.keys[i] as K;
  }

  valueAt(i: number): V {
    return this.vals[i] as V;
  }

  private find(key: K): number {
    if (this.index !== undefined) return this.index.get(key) ?? -1;
    const keys = this.keys;
    for (let i = 0; i < this.n; i++) if (keys[i] === key) return i;
    return -1;
  }
}
