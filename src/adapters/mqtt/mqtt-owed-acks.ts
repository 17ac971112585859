/**
 * The PUBACKs an MQTT adapter owes: one promise per stored-but-not-yet-acknowledged message. A
 * graceful stop waits for them (bounded), so every message that was stored is acknowledged and never
 * resent to be stored twice. Shared by the embedded broker and the external-broker client.
 */
export class OwedAcks {
  private readonly owed = new Set<Promise<unknown>>();

  get size(): number {
    return this.owed.size;
  }

  /** Tracks `p` (which sends or withholds the PUBACK) until it settles. */
  add(p: Promise<unknown>): void {
    this.owed.add(p);
    void p.finally(() => this.owed.delete(p));
  }

  /** Waits until every owed PUBACK is settled, or until `deadline` (ms since epoch) passes. */
  async settle(deadline: number): Promise<void> {
    while (this.owed.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.owed]),
        new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
    }
  }
}
