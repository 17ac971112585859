/**
 * Memory benchmark (npm run bench:memory, needs --expose-gc): loads ~1,000,000 twins, each with a
 * few properties and latest telemetry values, and ~2,000,000 relationships into the in-memory
 * graph, runs a few queries to prove it still answers, forces GC and reports RSS and heap.
 * Target: RSS < 1.5 GB. Not a timed test: it reports, it does not assert.
 */
import { performance } from 'node:perf_hooks';
import { QueryCursorStore } from '../../src/core/query/query-cursors.js';
import { executeQuery } from '../../src/core/query/query-executor.js';
import { mb, report } from '../query/bench-report.js';
import { buildPlant, isOfModel } from '../query/plant.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('Run with --expose-gc (npm run bench:memory does).');
  process.exit(2);
}
// `--relationships N` (default 2,000,000); containment alone is ~1,002,000.
const relArg = process.argv.indexOf('--relationships');
const relationships = relArg > 0 ? Number(process.argv[relArg + 1]) : 2_000_000;
gc();
const before = process.memoryUsage();
const t0 = performance.now();
// 100 sites × 20 lines × 25 machines × 19 sensors = 1,002,100 twins
const plant = buildPlant({
  sites: 100,
  linesPerSite: 20,
  machinesPerLine: 25,
  sensorsPerMachine: 19,
  relationships,
});
const buildMs = performance.now() - t0;
const { graph } = plant;

const queries: [string, string][] = [
  [
    'anchored 3-hop MATCH with filter',
    `SELECT COUNT() FROM DIGITALTWINS MATCH (site)-[:contains]->(l)-[:contains]->(m)-[:hasSensor]->(s) WHERE site.$dtId = 'site-42' AND s.$telemetry.value > 90`,
  ],
  [
    'JOIN with filter',
    `SELECT COUNT() FROM DIGITALTWINS S JOIN L RELATED S.contains JOIN M RELATED L.contains WHERE S.$dtId = 'site-7' AND M.rpm > 2500`,
  ],
  [
    'model-index scan (machines vibrating > 9.9)',
    `SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:bench:Machine;1') AND T.$telemetry.vibration > 9.9`,
  ],
  ['full filtered scan of 1M twins', `SELECT COUNT() FROM DIGITALTWINS T WHERE T.$telemetry.value > 99.9`],
  [
    '10-hop path',
    `SELECT b.$dtId AS id FROM DIGITALTWINS MATCH (a)-[:feeds*10]->(b) WHERE a.$dtId = 'machine-50-3-0'`,
  ],
];
const results: string[] = [];
for (const [name, text] of queries) {
  const s = performance.now();
  const page = executeQuery(graph, text, { isOfModel, cursors: new QueryCursorStore() });
  results.push(`| ${name} | ${JSON.stringify(page.value)} | ${(performance.now() - s).toFixed(1)} |`);
}
gc();
gc();
const after = process.memoryUsage();
const lines = [
  `Loaded ${graph.twinCount.toLocaleString('en')} twins (4 properties + 1–2 latest telemetry values each) and ${graph.relationshipCount.toLocaleString('en')} relationships in ${(buildMs / 1000).toFixed(1)} s.`,
  '',
  `| after forced GC | value |`,
  '|---|---:|',
  `| RSS | ${mb(after.rss)} (target < 1.5 GiB = 1,536 MiB; ${mb(before.rss)} before loading) |`,
  `| heap used | ${mb(after.heapUsed)} |`,
  `| heap total | ${mb(after.heapTotal)} |`,
  `| external (includes the typed-array columns) | ${mb(after.external)} |`,
  `| of which array buffers | ${mb(after.arrayBuffers)} |`,
  '',
  '| query (proof it works at 1M) | result | ms (single run) |',
  '|---|---|---:|',
  ...results,
];
report(
  'Memory benchmark (bench/memory/run.ts)',
  `npm run bench:memory${relArg > 0 ? ` -- --relationships ${relationships}` : ''}`,
  lines,
);
// keep the graph alive until after the measurement
if (graph.twinCount < 0) console.log(plant.sites.length);
