/**
 * The device simulator's hand-over rule (docs/simulation.md): who owns a simulated twin's telemetry —
 * the simulator, or for a while someone who sent a value of it (over HTTP or MQTT). The simulator's
 * own readings are recognised by the `$ts` it stamped on them; any other committed reading of a
 * simulated twin hands those telemetry names over for `handOverMs` (default 10 min). A command or a
 * fault gives the twin back at once.
 */

/** Wall-clock time a reading sent by hand keeps the simulator off that telemetry of the twin. */
export const DEFAULT_HAND_OVER_MS = 10 * 60_000;

/** Telemetry of a simulated twin that the simulator leaves alone because someone else sent it. */
export interface HandOver {
  name: string;
  /** Wall time (ms since epoch) at which the simulator takes it back. */
  until: number;
}

export interface HandOverOptions {
  /** How long a hand-over lasts (default DEFAULT_HAND_OVER_MS). */
  handOverMs?: number;
  /** Wall clock (default Date.now). */
  now?: () => number;
  log: { info(msg: string): void };
}

/** How many of its own recent `$ts` per asset the simulator remembers (to know its readings on the bus). */
const OWN_STAMPS = 64;

/** The hand-over state of one simulator's twins. */
/** How much later a simulated reading may be stamped and still count as crossing one sent by hand. */
const CROSSING_MS = 1000;

export function handOverState(o: HandOverOptions) {
  const log = o.log;
  const now = o.now ?? Date.now;
  const span = o.handOverMs ?? DEFAULT_HAND_OVER_MS;
  /** The simulator's recent readings per twin: their `$ts` and the names they carried. */
  const own = new Map<string, { ts: number; names: readonly string[] }[]>();
  /** twin → telemetry name → wall ms until which the simulator leaves it alone. */
  const held = new Map<string, Map<string, number>>();
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  return {
    stamped(twinId: string, ts: number, names: readonly string[]): void {
      let a = own.get(twinId);
      if (!a) own.set(twinId, (a = []));
      a.push({ ts, names });
      if (a.length > OWN_STAMPS) a.shift();
    },
    /**
     * A committed reading: unless the simulator sent it, its telemetry names are handed over.
     * Returns the `$ts` after which the simulator must repeat the reading's values once (a simulated
     * reading of those names crossed it in flight, stamped up to a second later, and would otherwise
     * stand as the latest), else undefined.
     */
    seen(
      twinId: string,
      time: number,
      values: Record<string, unknown>,
      names: ReadonlySet<string> | undefined,
      take: (name: string, value: unknown) => void,
    ): { repeatAfter: number; names: string[] } | undefined {
      const mine = own.get(twinId) ?? [];
      if (mine.some((r) => r.ts === time)) return undefined;
      const taken = Object.keys(values).filter((k) => names?.has(k));
      if (!taken.length) return undefined; // derived values (residuals) or names the simulator never sends
      let h = held.get(twinId);
      if (!h) held.set(twinId, (h = new Map()));
      const fresh = taken.filter((k) => !h.has(k));
      const until = now() + span;
      for (const k of taken) {
        h.set(k, until);
        take(k, values[k]);
      }
      if (fresh.length)
        log.info(
          `Simulator: ${twinId}: ${fresh.join(', ')} sent by another client; the simulator leaves ${fresh.length > 1 ? 'them' : 'it'} alone until ${clock(until)} UTC (a command or fault gives ${twinId} back).`,
        );
      const crossed = mine.filter(
        (r) => r.ts > time && r.ts - time <= CROSSING_MS && r.names.some((n) => taken.includes(n)),
      );
      if (!crossed.length) return undefined;
      return { repeatAfter: Math.max(...mine.map((r) => r.ts)), names: taken };
    },
    /** The reading set without the names someone else holds; expired hand-overs end here. */
    filter<V>(twinId: string, values: Record<string, V>): Record<string, V> {
      const h = held.get(twinId);
      if (!h) return values;
      const t = now();
      const out: Record<string, V> = {};
      for (const [k, v] of Object.entries(values)) {
        const until = h.get(k);
        if (until !== undefined && until > t) continue;
        if (until !== undefined) h.delete(k);
        out[k] = v;
      }
      if (h.size === 0) {
        held.delete(twinId);
        log.info(`Simulator: ${twinId}: hand-over over, the simulator publishes all its telemetry again.`);
      }
      return out;
    },
    giveBack(twinId: string, why: string): void {
      if (held.delete(twinId)) log.info(`Simulator: ${twinId} is simulated again (${why}).`);
    },
    list(twinId: string): HandOver[] {
      const t = now();
      return [...(held.get(twinId) ?? [])]
        .filter(([, until]) => until > t)
        .map(([name, until]) => ({ name, until }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    twins(): number {
      const t = now();
      let n = 0;
      for (const h of held.values()) if ([...h.values()].some((u) => u > t)) n++;
      return n;
    },
  };
}
