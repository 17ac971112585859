/**
 * Backtest: runs one rule over stored history (HistoryStore.queryRaw, paged) with a fresh RuleEngine
 * and answers when it would have fired. Readings of the series the rule reads are merged by time per
 * twin; tick(t) runs before each reading and at the end, so durations and missing data behave as
 * live. Limits are today's property values (history does not keep old ones). The run awaits between
 * pages (and every few thousand readings), so it never holds the event loop for long.
 */
import type { HistoryRawPage, HistoryRawQuery } from '../../core/ports/storage-ports.js';
import type { TwinContext } from '../analytics-types.js';
import { RuleEngine, type RuleEpisode } from './rule-engine.js';
import type { VersionedRule } from './rule-types.js';

export interface BacktestRequest {
  workspace: string;
  /** The twins to run over (one twin, or the twins of a model the caller resolved). */
  twins: readonly { id: string; modelId: string }[];
  from: number;
  to: number;
}

export interface BacktestOptions {
  history: { queryRaw(q: HistoryRawQuery): Promise<HistoryRawPage> };
  context: TwinContext;
  /** Points per page read (default 1000: a SQLite page of 1000 takes some ms). */
  pageSize?: number;
  /** Most readings read in all; the result says when it stopped there (default 20 000 000). */
  maxPoints?: number;
  /** Most episodes listed (all are counted; default 10 000). */
  maxEpisodes?: number;
  onProgress?: (p: BacktestProgress) => void;
  /** Checked between pages: true stops the run (the result so far, `cancelled`). */
  cancelled?: () => boolean;
}

export interface BacktestProgress {
  twinsDone: number;
  twins: number;
  points: number;
  /** 0..1 over twins and, inside a twin, over its time range. */
  fraction: number;
}

export interface BacktestEpisode {
  twinId: string;
  start: number;
  /** Absent when still raised at the end of the range. */
  end?: number;
  peak?: number;
}

export interface BacktestResult {
  ruleId: string;
  ruleVersion: number;
  from: number;
  to: number;
  twins: number;
  points: number;
  count: number;
  twinsFired: number;
  episodes: BacktestEpisode[];
  /** "would have fired 14 times in the last 7 d on 3 twins" */
  summary: string;
  truncated: boolean;
  cancelled: boolean;
}

const INITIAL_SLICE_MS = 3_600_000;
const MIN_SLICE_MS = 1000;
const MAX_SLICE_MS = 7 * 86_400_000;

const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** @throws whatever the history store throws (StorageError, InvalidContinuationToken). */
export async function runBacktest(
  rule: VersionedRule,
  req: BacktestRequest,
  o: BacktestOptions,
): Promise<BacktestResult> {
  const pageSize = o.pageSize ?? 1000;
  const maxPoints = o.maxPoints ?? 20_000_000;
  const maxEpisodes = o.maxEpisodes ?? 10_000;
  const episodes: BacktestEpisode[] = [];
  let count = 0;
  const fired = new Set<string>();
  const collect = (e: Pick<RuleEpisode, 'twinId' | 'start' | 'end' | 'peak'>) => {
    count++;
    fired.add(e.twinId);
    if (episodes.length < maxEpisodes)
      episodes.push({
        twinId: e.twinId,
        start: e.start,
        ...(e.end !== undefined ? { end: e.end } : {}),
        ...(e.peak !== undefined ? { peak: e.peak } : {}),
      });
  };
  const engine = new RuleEngine({
    sink: { raise: () => undefined, conditionCleared: () => undefined },
    context: o.context,
    onEpisode: collect,
  });
  // Episodes are what counts here: no repeats.
  const { repeatEveryMs: _repeat, ...spec } = rule.spec;
  engine.setRules(req.workspace, [{ version: rule.version, spec: { ...spec, enabled: true } }], req.from);
  const compiled = engine.rulesOf(req.workspace)[0];
  const paths = compiled ? [...compiled.reads] : [];
  let points = 0;
  let truncated = false;
  let cancelled = false;
  let done = 0;
  const span = Math.max(1, req.to - req.from);
  const progress = (t: number) =>
    o.onProgress?.({
      twinsDone: done,
      twins: req.twins.length,
      points,
      fraction: Math.min(1, (done + Math.max(0, t - req.from) / span) / Math.max(1, req.twins.length)),
    });

  for (const twin of req.twins) {
    // Read in time slices, each paged: a store whose page cost grows with the rest of the range
    // (SQLite's chunk scan) then pays for one slice per page, not for the whole range. The slice
    // adapts so that it holds about a page.
    const series = paths.map((path) => ({
      path,
      page: [] as HistoryRawPage['points'],
      i: 0,
      cursor: undefined as string | undefined,
      sliceFrom: req.from,
      sliceMs: INITIAL_SLICE_MS,
      inSlice: 0,
      done: false,
    }));
    const fill = async (s: (typeof series)[number]): Promise<void> => {
      while (s.i >= s.page.length && !s.done) {
        const sliceTo = Math.min(req.to, s.sliceFrom + s.sliceMs);
        const page = await o.history.queryRaw({
          workspace: req.workspace,
          twinId: twin.id,
          path: s.path,
          from: s.sliceFrom,
          to: sliceTo,
          limit: pageSize,
          order: 'asc',
          ...(s.cursor ? { cursor: s.cursor } : {}),
        });
        s.page = page.points;
        s.i = 0;
        s.inSlice += page.points.length;
        s.cursor = page.cursor;
        if (s.cursor === undefined) {
          // The slice is read: size the next one from how full this one was.
          if (s.inSlice > pageSize) s.sliceMs = Math.max(MIN_SLICE_MS, s.sliceMs / 2);
          else if (s.inSlice < pageSize / 4) s.sliceMs = Math.min(MAX_SLICE_MS, s.sliceMs * 2);
          s.sliceFrom = sliceTo;
          s.inSlice = 0;
          s.done = sliceTo >= req.to;
        }
        await yieldLoop();
      }
    };
    let sinceYield = 0;
    for (;;) {
      if (o.cancelled?.()) {
        cancelled = true;
        break;
      }
      for (const s of series) await fill(s);
      let t = Infinity;
      for (const s of series) if (s.i < s.page.length) t = Math.min(t, s.page[s.i]!.ts);
      if (t === Infinity) break;
      // Component telemetry is stored as "component/name"; an observation carries one component.
      const groups = new Map<string, Record<string, unknown>>();
      for (const s of series) {
        while (s.i < s.page.length && s.page[s.i]!.ts === t) {
          const slash = s.path.indexOf('/');
          const component = slash >= 0 ? s.path.slice(0, slash) : '';
          let values = groups.get(component);
          if (!values) groups.set(component, (values = Object.create(null) as Record<string, unknown>));
          values[slash >= 0 ? s.path.slice(slash + 1) : s.path] = s.page[s.i]!.value;
          s.i++;
          points++;
        }
      }
      engine.tick(t);
      for (const [component, values] of groups)
        engine.observe({
          workspace: req.workspace,
          twinId: twin.id,
          modelId: twin.modelId,
          time: t,
          values,
          ...(component !== '' ? { component } : {}),
        });
      if (points >= maxPoints) {
        truncated = true;
        break;
      }
      if (++sinceYield >= 500) {
        sinceYield = 0;
        progress(t);
        await yieldLoop();
      }
    }
    if (truncated || cancelled) break;
    engine.tick(req.to);
    done++;
    progress(req.to);
  }
  for (const e of engine.openEpisodes()) collect(e);
  episodes.sort((a, b) => a.start - b.start || (a.twinId < b.twinId ? -1 : 1));
  return {
    ruleId: rule.spec.id,
    ruleVersion: rule.version,
    from: req.from,
    to: req.to,
    twins: req.twins.length,
    points,
    count,
    twinsFired: fired.size,
    episodes,
    summary: summarise(count, fired.size, req.to - req.from, truncated, cancelled),
    truncated,
    cancelled,
  };
}

function summarise(
  count: number,
  twins: number,
  spanMs: number,
  truncated: boolean,
  cancelled: boolean,
): string {
  const cut = cancelled ? ' (cancelled before the end)' : truncated ? ' (stopped at the point limit)' : '';
  if (count === 0) return `would not have fired in the last ${spanWords(spanMs)}${cut}`;
  const times = count === 1 ? 'once' : `${count} times`;
  return `would have fired ${times} in the last ${spanWords(spanMs)} on ${twins} twin${twins === 1 ? '' : 's'}${cut}`;
}

/** 604800000 -> "7 days", 3600000 -> "hour", 90000 -> "1.5 minutes". */
function spanWords(ms: number): string {
  const [unit, size]: [string, number] =
    ms >= 86_400_000
      ? ['day', 86_400_000]
      : ms >= 3_600_000
        ? ['hour', 3_600_000]
        : ms >= 60_000
          ? ['minute', 60_000]
          : ['second', 1000];
  const n = Math.round((ms / size) * 10) / 10;
  return n === 1 ? unit : `${n} ${unit}s`;
}
