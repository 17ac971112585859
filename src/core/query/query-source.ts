/**
 * A list the query walk reads from a live graph iterator until the walk pauses, and from a copy of
 * what was left after: the graph's iterators must not be held across a write (query-runner.ts).
 */
/** A list read from a live graph iterator until a pause, then from a copy of what was left. */
export class Source<T> {
  private it: Iterator<T> | undefined;
  private buf: T[] | undefined;
  private i = 0;
  /** Items copied (0 until copied). */
  size = 0;

  constructor(items: Iterable<T>) {
    this.it = items[Symbol.iterator]();
  }

  /** True once copied: items read since may have changed (a pause came after the copy). */
  get copied(): boolean {
    return this.buf !== undefined;
  }

  /** The next item, or undefined at the end (items are never undefined). */
  next(): T | undefined {
    if (this.buf) return this.i < this.buf.length ? this.buf[this.i++] : undefined;
    const r = (this.it as Iterator<T>).next();
    return r.done ? undefined : r.value;
  }

  /** Copies what is left and lets go of the live iterator; returns how many items were copied. */
  copy(): number {
    if (this.buf) return 0;
    const it = this.it as Iterator<T>;
    const buf: T[] = [];
    for (let r = it.next(); !r.done; r = it.next()) buf.push(r.value);
    this.buf = buf;
    this.it = undefined;
    this.size = buf.length;
    return buf.length;
  }
}
