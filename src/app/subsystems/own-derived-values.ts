/**
 * The values objects of the derived sets an analytics run is storing, so that the live events of
 * those sets are not handed back to the run (its rules saw the values already). An entry lives from
 * the store call until its event comes back through the bus (`take`), or until the store call
 * settles (`forget`: a refused set is never published): a strong set of what is in flight, not a
 * WeakSet, whose entries cost ~0.2 µs each to add and more to collect, once per derived set on the
 * ingest thread.
 */
export class OwnDerivedValues {
  private readonly pending = new Set<object>();

  get size(): number {
    return this.pending.size;
  }

  /** Stores the sets with `store`, their values marked as this run's until the call settles. */
  storing<S extends { values: object }, R>(
    sets: readonly S[],
    store: (sets: readonly S[]) => Promise<R>,
  ): Promise<R> {
    for (const s of sets) this.pending.add(s.values);
    return store(sets).finally(() => {
      for (const s of sets) this.pending.delete(s.values);
    });
  }

  /** True (once) when `values` are a set this run is storing: its event is the run's own. */
  take(values: object): boolean {
    return this.pending.delete(values);
  }
}
