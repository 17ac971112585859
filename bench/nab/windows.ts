/**
 * Per-window diagnosis of one detector configuration on a NAB folder (npx tsx bench/nab/windows.ts
 * --data DIR [--config '{...}'] [--kind resonance] [--profile 0|1|2] [--fps]): at the corpus
 * threshold of the profile, every labelled window with its first detection (rows after the left
 * edge, sweep score), its highest score and that score's rank among the file's scores outside
 * windows, and the highest-scoring false positives (--fps: every false positive, with its row).
 * Not a timed test: it reports, it does not assert.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetectorKind } from '../../src/analytics/anomaly/detector.js';
import {
  NAB_PROFILES,
  layoutFile,
  scoreCorpus,
  type NabScoredFile,
} from '../../src/analytics/anomaly/nab-scorer.js';
import { stringFlag } from '../results-file.js';
import { readNabCorpus, scoreNabSeries } from './nab-corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => stringFlag(argv, name);
const dataDir = path.resolve(flag('--data') ?? path.join(here, '../../../shared/data/nab'));
const kind = (flag('--kind') ?? 'resonance') as DetectorKind;
const config = JSON.parse(flag('--config') ?? '{}') as Record<string, number>;
const profile = NAB_PROFILES[Number(flag('--profile') ?? 0)]!;
/** --fps: also list every false positive (row, score, rows since the probation ended). */
const listFps = argv.includes('--fps');

const corpus = readNabCorpus(dataDir);
const files: NabScoredFile[] = corpus.map((s) => ({
  name: s.key,
  layout: layoutFile(s.timestamps, s.windows),
  scores: scoreNabSeries(kind, config, s).scores,
}));
const result = scoreCorpus(files, profile);
const th = result.threshold;
console.log(`${profile.name}: ${result.normalized.toFixed(2)} threshold ${th.toFixed(4)}`);
for (const f of files) {
  const { layout, scores } = f;
  const outside: number[] = [];
  for (let i = layout.probation; i < layout.rows; i++) if (layout.window[i]! < 0) outside.push(scores[i]!);
  outside.sort((a, b) => b - a);
  const wins = new Map<number, { l: number; r: number }>();
  for (let i = 0; i < layout.rows; i++) {
    const w = layout.window[i]!;
    if (w < 0) continue;
    const e = wins.get(w);
    if (e) e.r = i;
    else wins.set(w, { l: i, r: i });
  }
  const fps = outside.filter((x) => x >= th).length;
  console.log(
    `${f.name} rows ${layout.rows} probation ${layout.probation} fp ${fps} top-outside ${outside
      .slice(0, 4)
      .map((x) => x.toFixed(3))
      .join(',')}`,
  );
  if (listFps)
    for (let i = layout.probation; i < layout.rows; i++)
      if (layout.window[i]! < 0 && scores[i]! >= th)
        console.log(`   fp at ${i} (+${i - layout.probation} after probation): ${scores[i]!.toFixed(3)}`);
  for (const [w, { l, r }] of wins) {
    if (r < layout.probation) continue;
    let first = -1;
    let max = 0;
    let maxAt = -1;
    for (let i = Math.max(l, layout.probation); i <= r; i++) {
      if (first < 0 && scores[i]! >= th) first = i;
      if (scores[i]! > max) [max, maxAt] = [scores[i]!, i];
    }
    const rank = outside.filter((x) => x > max).length;
    console.log(
      `   win ${w} [${l}, ${r}] width ${r - l + 1}${l < layout.probation ? ' (opens in probation)' : ''}: ${first >= 0 ? `caught at +${first - l} (${layout.unweighted[first]!.toFixed(2)})` : 'MISSED'}; max ${max.toFixed(3)} at +${maxAt - l}, ${rank} outside scores above it`,
    );
  }
}
