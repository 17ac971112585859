/**
 * Column storage for relationships, so that millions of them fit in little memory: an edge is a
 * slot number, its fields live in parallel columns (typed arrays for numbers, plain arrays for
 * strings), and adjacency is two intrusive doubly linked lists threaded through the slots
 * (both in insertion order; O(1) unlink even for hub twins) — no
 * per-edge object, no per-twin array, no per-twin Map.
 *
 * Twins are referred to by their slot number too (assigned by the graph). Slots of deleted edges
 * are reused. This module knows nothing about records or queries; the graph builds on it.
 */

const NIL = -1;

function grow<T extends Int32Array | Float64Array>(
  a: T,
  size: number,
  make: (n: number) => T,
  fill?: number,
): T {
  if (size <= a.length) return a;
  const b = make(Math.max(size, Math.ceil(a.length * 1.5) + 16));
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
}

export class EdgeStore {
  // per edge
  ids: string[] = [];
  etags: string[] = [];
  /** Only edges that have properties (most have none). */
  props = new Map<number, Record<string, unknown>>();
  src = new Int32Array(0);
  tgt = new Int32Array(0);
  name = new Int32Array(0);
  time = new Float64Array(0);
  nextOut = new Int32Array(0);
  prevOut = new Int32Array(0);
  nextIn = new Int32Array(0);
  prevIn = new Int32Array(0);
  // per twin slot
  headOut = new Int32Array(0);
  tailOut = new Int32Array(0);
  headIn = new Int32Array(0);
  tailIn = new Int32Array(0);
  // relationship names, interned
  readonly names: string[] = [];
  private readonly nameIdx = new Map<string, number>();
  private free: number[] = [];
  private top = 0;
  count = 0;

  /** Makes room for twin slot `slot` (new twins start with no edges). */
  ensureTwin(slot: number): void {
    const n = slot + 1;
    this.headOut = grow(this.headOut, n, (k) => new Int32Array(k), NIL);
    this.tailOut = grow(this.tailOut, n, (k) => new Int32Array(k), NIL);
    this.headIn = grow(this.headIn, n, (k) => new Int32Array(k), NIL);
    this.tailIn = grow(this.tailIn, n, (k) => new Int32Array(k), NIL);
  }

  internName(name: string): number {
    let i = this.nameIdx.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.nameIdx.set(name, i);
    }
    return i;
  }

  /** The name's index, or -1 when no edge was ever called that. */
  nameIndex(name: string): number {
    return this.nameIdx.get(name) ?? NIL;
  }

  /** Appends a new edge to its source's outgoing list and its target's incoming list. */
  add(
    id: string,
    src: number,
    tgt: number,
    name: number,
    etag: string,
    time: number,
    props: Record<string, unknown> | null,
  ): number {
    const e = this.free.pop() ?? this.top++;
    if (e >= this.src.length) {
      const n = e + 1;
      this.src = grow(this.src, n, (k) => new Int32Array(k));
      this.tgt = grow(this.tgt, n, (k) => new Int32Array(k));
      this.name = grow(this.name, n, (k) => new Int32Array(k));
      this.time = grow(this.time, n, (k) => new Float64Array(k));
      this.nextOut = grow(this.nextOut, n, (k) => new Int32Array(k));
      this.prevOut = grow(this.prevOut, n, (k) => new Int32Array(k));
      this.nextIn = grow(this.nextIn, n, (k) => new Int32Array(k));
      this.prevIn = grow(this.prevIn, n, (k) => new Int32Array(k));
    }
    this.ids[e] = id;
    this.etags[e] = etag;
    this.setProps(e, props);
    this.src[e] = src;
    this.tgt[e] = tgt;
    this.name[e] = name;
    this.time[e] = time;
    // outgoing: append at the tail, so iteration (and query paging) follows insertion order
    this.nextOut[e] = NIL;
    const tail = this.tailOut[src] as number;
    this.prevOut[e] = tail;
    if (tail === NIL) this.headOut[src] = e;
    else this.nextOut[tail] = e;
    this.tailOut[src] = e;
    this.linkIn(e, tgt);
    this.count++;
    return e;
  }

  /** Overwrites an edge's fields in place; moves it between incoming lists when the target changes. */
  update(
    e: number,
    tgt: number,
    name: number,
    etag: string,
    time: number,
    props: Record<string, unknown> | null,
  ): void {
    if (this.tgt[e] !== tgt) {
      this.unlinkIn(e);
      this.linkIn(e, tgt);
    }
    this.name[e] = name;
    this.etags[e] = etag;
    this.time[e] = time;
    this.setProps(e, props);
  }

  private setProps(e: number, props: Record<string, unknown> | null): void {
    if (props) this.props.set(e, props);
    else this.props.delete(e);
  }

  remove(e: number): void {
    this.unlinkOut(e);
    this.unlinkIn(e);
    this.ids[e] = '';
    this.etags[e] = '';
    this.props.delete(e);
    this.free.push(e);
    this.count--;
  }

  /** Outgoing edge slots of a twin slot, in insertion order. */
  *outOf(slot: number): Generator<number> {
    for (let e = this.headOut[slot] ?? NIL; e !== NIL; e = this.nextOut[e] as number) yield e;
  }

  *inOf(slot: number): Generator<number> {
    for (let e = this.headIn[slot] ?? NIL; e !== NIL; e = this.nextIn[e] as number) yield e;
  }

  /** The outgoing edge of `slot` with this id (linear in the out-degree), or -1. */
  findOut(slot: number, id: string): number {
    for (let e = this.headOut[slot] ?? NIL; e !== NIL; e = this.nextOut[e] as number)
      if (this.ids[e] === id) return e;
    return NIL;
  }

  /** Appends e to tgt's incoming list. */
  private linkIn(e: number, tgt: number): void {
    this.tgt[e] = tgt;
    const tail = this.tailIn[tgt] as number;
    this.nextIn[e] = NIL;
    this.prevIn[e] = tail;
    if (tail === NIL) this.headIn[tgt] = e;
    else this.nextIn[tail] = e;
    this.tailIn[tgt] = e;
  }

  private unlinkOut(e: number): void {
    const s = this.src[e] as number;
    const prev = this.prevOut[e] as number;
    const next = this.nextOut[e] as number;
    if (prev === NIL) this.headOut[s] = next;
    else this.nextOut[prev] = next;
    if (next === NIL) this.tailOut[s] = prev;
    else this.prevOut[next] = prev;
  }

  private unlinkIn(e: number): void {
    const t = this.tgt[e] as number;
    const prev = this.prevIn[e] as number;
    const next = this.nextIn[e] as number;
    if (prev === NIL) this.headIn[t] = next;
    else this.nextIn[prev] = next;
    if (next === NIL) this.tailIn[t] = prev;
    else this.prevIn[next] = prev;
  }
}
