/**
 * Twins' history as RUL training data: each twin's chosen telemetry resampled to one row per step
 * (the average of its readings in the step), steps aligned on multiples of `stepMs` since the epoch
 * and counted from the twin's first step (step 1). The same alignment is used by live inference
 * (rul-operator.ts), so a model sees the same rows in training and in service.
 *
 * Bounded: history is read through the store's aggregates in pieces of at most `MAX_STEPS_PER_READ`
 * steps, and a twin may give at most `maxStepsPerAsset` rows (its most recent ones).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { RulAssetSeries } from './rul-types.js';

/** Steps read by one aggregate query (the stores allow 100,000 buckets). */
export const MAX_STEPS_PER_READ = 50_000;
/** The widest time range a history read may span: ±275,000 years, as Date allows. */
const FAR = 8.64e15;

export interface RulHistoryRange {
  /** First and last step start read over all assets, ms (undefined when nothing was read). */
  from?: number;
  to?: number;
  /** Rows read over all assets. */
  rows: number;
}

export interface ReadRulAssetsOptions {
  history: Pick<HistoryStore, 'queryRaw' | 'queryAggregate'>;
  workspace: string;
  twinIds: readonly string[];
  /** Telemetry to read (sensors and settings). */
  columns: readonly string[];
  stepMs: number;
  /** Rows kept per twin at most (its latest); default 100,000. */
  maxStepsPerAsset?: number;
  /** Failure time per twin (ms), when known from the twin (else the last reading is its failure). */
  failureOf?: (twinId: string) => number | undefined;
  /** Told after each twin (for progress). */
  onAsset?: (done: number, total: number) => void;
  /** Stops early when it answers true (a cancelled job). */
  cancelled?: () => boolean;
  /**
   * Called after each series read (core/jobs/work-slicer.ts): gives the event loop back now and
   * then, since a synchronous store answers every read at once.
   */
  pace?: () => Promise<void>;
}

export interface ReadRulAssetsResult {
  assets: RulAssetSeries[];
  /** Twins left out, with why (no history, no reading of any column). */
  skipped: { twinId: string; reason: string }[];
  range: RulHistoryRange;
}

/** The step start (ms) of a time: aligned on multiples of `stepMs` since the epoch. */
export function stepStart(time: number, stepMs: number): number {
  return Math.floor(time / stepMs) * stepMs;
}

/** First and last reading times of one series, or undefined when it has none. */
async function seriesSpan(
  history: ReadRulAssetsOptions['history'],
  workspace: string,
  twinId: string,
  path: string,
): Promise<{ first: number; last: number } | undefined> {
  const q = { workspace, twinId, path, from: -FAR, to: FAR, limit: 1 };
  const first = await history.queryRaw({ ...q, order: 'asc' });
  const p0 = first.points[0];
  if (p0 === undefined) return undefined;
  const last = await history.queryRaw({ ...q, order: 'desc' });
  return { first: p0.ts, last: last.points[0]?.ts ?? p0.ts };
}

/**
 * Reads the twins' history as asset series (one per twin with readings). An asset's rows run from
 * its first step to its failure step (its last reading, or `failureOf`), at most
 * `maxStepsPerAsset` of the latest; steps without a reading of a column are NaN in that column.
 * @throws ValidationFailed when `stepMs` is not a positive whole number of ms; StorageError from the store
 */
export async function readRulAssets(o: ReadRulAssetsOptions): Promise<ReadRulAssetsResult> {
  const { stepMs } = o;
  if (!Number.isInteger(stepMs) || stepMs <= 0)
    throw new TwinloopError(
      'ValidationFailed',
      `The step must be a positive whole number of ms (got ${stepMs}).`,
    );
  const maxSteps = o.maxStepsPerAsset ?? 100_000;
  const assets: RulAssetSeries[] = [];
  const skipped: ReadRulAssetsResult['skipped'] = [];
  const range: RulHistoryRange = { rows: 0 };
  let done = 0;
  for (const twinId of o.twinIds) {
    if (o.cancelled?.()) break;
    const asset = await readAsset(o, twinId, maxSteps);
    if (typeof asset === 'string') skipped.push({ twinId, reason: asset });
    else {
      assets.push(asset.series);
      range.rows += asset.series.steps.length;
      range.from = Math.min(range.from ?? Infinity, asset.from);
      range.to = Math.max(range.to ?? -Infinity, asset.to);
    }
    o.onAsset?.(++done, o.twinIds.length);
  }
  return { assets, skipped, range };
}

async function readAsset(
  o: ReadRulAssetsOptions,
  twinId: string,
  maxSteps: number,
): Promise<{ series: RulAssetSeries; from: number; to: number } | string> {
  const { history, workspace, columns, stepMs } = o;
  let first = Infinity;
  let last = -Infinity;
  for (const c of columns) {
    const span = await seriesSpan(history, workspace, twinId, c);
    await o.pace?.();
    if (span === undefined) continue;
    first = Math.min(first, span.first);
    last = Math.max(last, span.last);
  }
  if (first === Infinity) return 'no reading of any chosen telemetry';
  const failure = o.failureOf?.(twinId);
  if (failure !== undefined) {
    if (!Number.isFinite(failure) || failure < first) return 'its failure time is before its first reading';
    last = failure;
  }
  const firstStep = stepStart(first, stepMs);
  const lastStep = stepStart(last, stepMs);
  const total = Math.round((lastStep - firstStep) / stepMs) + 1;
  const n = Math.min(total, maxSteps);
  const from = lastStep - (n - 1) * stepMs;
  const steps = new Float64Array(n);
  const offset = total - n; // steps before `from` that were left out
  for (let i = 0; i < n; i++) steps[i] = offset + i + 1;
  const cols: Record<string, Float64Array> = Object.create(null) as Record<string, Float64Array>;
  for (const c of columns) {
    const values = new Float64Array(n).fill(NaN);
    for (let start = 0; start < n; start += MAX_STEPS_PER_READ) {
      const count = Math.min(MAX_STEPS_PER_READ, n - start);
      const buckets = await history.queryAggregate({
        workspace,
        twinId,
        path: c,
        from: from + start * stepMs,
        to: from + (start + count) * stepMs,
        interval: stepMs,
        fns: ['avg'],
      });
      for (const b of buckets) {
        if (b.count === 0 || typeof b.avg !== 'number' || !Number.isFinite(b.avg)) continue;
        const i = Math.round((b.start - from) / stepMs);
        if (i >= 0 && i < n) values[i] = b.avg;
      }
      await o.pace?.();
    }
    cols[c] = values;
  }
  return { series: { id: twinId, steps, columns: cols }, from, to: lastStep };
}
