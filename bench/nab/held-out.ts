/**
 * Leave-one-category-out estimate of a detector's NAB score on data it was not tuned on: for each
 * category with labelled windows, each profile's threshold is chosen on the other categories only
 * and the held-out category is scored with it; the held-out raw scores are pooled and normalised
 * over the held-out windows (as NAB normalises: 100 · (raw − null) / (perfect − null)).
 */
import {
  NAB_PROFILES,
  scoreCorpus,
  scoreFile,
  type NabScoredFile,
} from '../../src/analytics/anomaly/nab-scorer.js';

/** The category of a file keyed `<category>/<file>.csv`. */
export const categoryOf = (f: NabScoredFile): string => f.name.slice(0, f.name.indexOf('/'));

/** Per profile (NAB_PROFILES order), the pooled held-out normalised score. */
export function heldOutScores(files: readonly NabScoredFile[]): number[] {
  const categories = [...new Set(files.map(categoryOf))];
  return NAB_PROFILES.map((p) => {
    let raw = 0;
    let windows = 0;
    for (const c of categories) {
      const test = files.filter((f) => categoryOf(f) === c);
      if (!test.some((f) => f.layout.scoredWindows > 0)) continue;
      const threshold = scoreCorpus(
        files.filter((f) => categoryOf(f) !== c),
        p,
      ).threshold;
      for (const f of test) {
        raw += scoreFile(f, p, threshold).raw;
        windows += f.layout.scoredWindows;
      }
    }
    return windows === 0 ? 0 : (100 * (raw + p.fn * windows)) / ((p.tp + p.fn) * windows);
  });
}
