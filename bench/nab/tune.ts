/**
 * Generality check for the NAB detectors (npx tsx bench/nab/tune.ts --data DIR --grid '[{...},...]'
 * [--kind resonance]): scores every configuration of a grid on the whole corpus, then a
 * leave-one-category-out estimate: for each category with labelled windows, the configuration and
 * each profile's threshold are chosen on the other categories only, and the held-out category is
 * scored with them; the held-out raw scores are pooled and normalised over the held-out windows.
 * Per configuration it also prints the same estimate with the configuration fixed (only the
 * thresholds are chosen without the held-out category).
 * Not a timed test: it reports, it does not assert.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetectorKind } from '../../src/analytics/anomaly/detector.js';
import {
  NAB_PROFILES,
  layoutFile,
  scoreCorpus,
  scoreFile,
  type NabScoredFile,
} from '../../src/analytics/anomaly/nab-scorer.js';
import { heldOutScores } from './held-out.js';
import { stringFlag } from '../results-file.js';
import { readNabCorpus, scoreNabSeries } from './nab-corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => stringFlag(argv, name);
const dataDir = path.resolve(flag('--data') ?? path.join(here, '../../../shared/data/nab'));
const kind = (flag('--kind') ?? 'resonance') as DetectorKind;
const grid = JSON.parse(flag('--grid') ?? '[{}]') as Record<string, number>[];

const corpus = readNabCorpus(dataDir);
const layouts = corpus.map((s) => layoutFile(s.timestamps, s.windows));
const categories = [...new Set(corpus.map((s) => s.category))];

/** Scores of every file for one configuration. */
function run(config: Record<string, number>): NabScoredFile[] {
  return corpus.map((s, i) => ({
    name: s.key,
    layout: layouts[i]!,
    scores: scoreNabSeries(kind, config, s).scores,
  }));
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' / ');
const runs = grid.map((config) => ({ config, files: run(config) }));
const inCat = (f: NabScoredFile, c: string): boolean => f.name.startsWith(`${c}/`);

for (const r of runs) {
  const full = NAB_PROFILES.map((p) => scoreCorpus(r.files, p).normalized);
  const perCat = categories
    .filter((c) => r.files.some((f) => inCat(f, c) && f.layout.scoredWindows > 0))
    .map(
      (c) =>
        `${c} ${scoreCorpus(
          r.files.filter((f) => inCat(f, c)),
          NAB_PROFILES[0]!,
        ).normalized.toFixed(0)}`,
    );
  console.log(
    `${JSON.stringify(r.config)}: full ${fmt(full)} (mean ${mean(full).toFixed(2)}); held-out thresholds ${fmt(heldOutScores(r.files))}; ${perCat.join(', ')}`,
  );
}

// Leave one category out: pick the configuration and thresholds on the others, score the held-out one.
const held = NAB_PROFILES.map(() => ({ raw: 0, windows: 0 }));
const picks: string[] = [];
for (const c of categories) {
  if (!corpus.some((s, i) => s.category === c && layouts[i]!.scoredWindows > 0)) continue;
  let best = runs[0]!;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const r of runs) {
    const train = r.files.filter((f) => !inCat(f, c));
    const s = mean(NAB_PROFILES.map((p) => scoreCorpus(train, p).normalized));
    if (s > bestScore) [best, bestScore] = [r, s];
  }
  picks.push(`${c} → ${JSON.stringify(best.config)}`);
  NAB_PROFILES.forEach((p, k) => {
    const threshold = scoreCorpus(
      best.files.filter((f) => !inCat(f, c)),
      p,
    ).threshold;
    for (const f of best.files.filter((g) => inCat(g, c))) {
      held[k]!.raw += scoreFile(f, p, threshold).raw;
      held[k]!.windows += f.layout.scoredWindows;
    }
  });
}
const heldOut = NAB_PROFILES.map((p, k) => {
  const { raw, windows } = held[k]!;
  return (100 * (raw + p.fn * windows)) / ((p.tp + p.fn) * windows);
});
console.log(picks.join('\n'));
console.log(`held-out (leave one category out, pooled): ${fmt(heldOut)}`);
