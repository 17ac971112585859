/**
 * Query benchmark (npm run bench:query): builds a ~100,000-twin, 300,000-relationship plant and
 * measures p50/p99 of typical queries over many runs, then shows a 10-hop path query working.
 * Not a timed test: it reports, it does not assert.
 */
import { performance } from 'node:perf_hooks';
import { QueryCursorStore } from '../../src/core/query/query-cursors.js';
import { executeQuery, type QueryOptions } from '../../src/core/query/query-executor.js';
import { percentile, report } from './bench-report.js';
import { buildPlant, isOfModel, prng } from './plant.js';

const quick = process.argv.includes('--quick');
const t0 = performance.now();
const plant = buildPlant({
  sites: 20,
  linesPerSite: 10,
  machinesPerLine: 25,
  sensorsPerMachine: 19,
  relationships: 300_000,
});
const buildMs = performance.now() - t0;
const { graph } = plant;
const opts: QueryOptions = { isOfModel, pageSize: 1000, cursors: new QueryCursorStore() };
const rnd = prng(7);
const pick = (xs: string[]): string => xs[Math.floor(rnd() * xs.length)] as string;

interface Case {
  name: string;
  make: () => string;
  /** Follow continuation tokens to the end (true) or take the first page only. */
  allPages: boolean;
}

const cases: Case[] = [
  {
    name: '3-hop MATCH + filter, anchored on a line (line → machine → sensor → monitored machine)',
    make: () =>
      `SELECT m2.$dtId AS id FROM DIGITALTWINS MATCH (l)-[:contains]->(m)-[:hasSensor]->(s)-[:monitors]->(m2) WHERE l.$dtId = '${pick(plant.lines)}' AND s.$telemetry.value > 50 AND m2.rpm > 1000`,
    allPages: true,
  },
  {
    name: '3-hop MATCH + filter, anchored on a site (site → line → machine → sensor, ~4,750 paths)',
    make: () =>
      `SELECT s.$dtId AS id FROM DIGITALTWINS MATCH (site)-[:contains]->(l)-[:contains]->(m)-[:hasSensor]->(s) WHERE site.$dtId = '${pick(plant.sites)}' AND s.$telemetry.value > 99`,
    allPages: true,
  },
  {
    name: '3-hop MATCH + filter, unanchored, selective model (compressors vibrating > 9)',
    make: () =>
      `SELECT site.$dtId AS site, m.$dtId AS m FROM DIGITALTWINS MATCH (site)-[:contains]->(l)-[:contains]->(m)-[:hasSensor]->(s) WHERE IS_OF_MODEL(m, 'dtmi:bench:Compressor;1') AND m.$telemetry.vibration > 9 AND s.$telemetry.value > 99`,
    allPages: true,
  },
  {
    name: '3-hop MATCH + filter, unanchored, broad (every site → … → sensor, COUNT)',
    make: () =>
      `SELECT COUNT() FROM DIGITALTWINS MATCH (site)-[:contains]->(l)-[:contains]->(m)-[:hasSensor]->(s) WHERE IS_OF_MODEL(site, 'dtmi:bench:Site;1') AND l.active = true AND s.$telemetry.value > 99`,
    allPages: true,
  },
  {
    name: 'JOIN: site → lines → machines with rpm > 2500',
    make: () =>
      `SELECT L.$dtId AS line, M.$dtId AS machine FROM DIGITALTWINS S JOIN L RELATED S.contains JOIN M RELATED L.contains WHERE S.$dtId = '${pick(plant.sites)}' AND M.rpm > 2500`,
    allPages: true,
  },
  {
    name: 'Filtered scan, first page of 100 (sensors with value > 90)',
    make: () => `SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$telemetry.value > 90`,
    allPages: false,
  },
  {
    name: 'Filtered scan over all 100k twins (COUNT of sensors with value > 99.5)',
    make: () => `SELECT COUNT() FROM DIGITALTWINS T WHERE T.$telemetry.value > 99.5`,
    allPages: true,
  },
  {
    name: 'Model-index scan (COUNT of machines incl. derived models with vibration > 9)',
    make: () =>
      `SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:bench:Machine;1') AND T.$telemetry.vibration > 9`,
    allPages: true,
  },
];

function run(text: string, allPages: boolean): number {
  let rows = 0;
  let token: string | null = null;
  do {
    const page = executeQuery(graph, text, {
      ...opts,
      pageSize: allPages ? 1000 : 100,
      continuationToken: token,
    });
    rows += page.value.length;
    token = allPages ? page.continuationToken : null;
  } while (token);
  return rows;
}

const lines: string[] = [
  `Graph: ${graph.twinCount.toLocaleString('en')} twins, ${graph.relationshipCount.toLocaleString('en')} relationships, built in ${(buildMs / 1000).toFixed(1)} s.`,
  '',
  '| query | runs | rows (last run) | p50 ms | p99 ms |',
  '|---|---:|---:|---:|---:|',
];
for (const c of cases) {
  for (let i = 0; i < 5; i++) run(c.make(), c.allPages); // warm-up
  const samples: number[] = [];
  let rows = 0;
  const budgetMs = quick ? 500 : 3000;
  const started = performance.now();
  while (samples.length < 1000 && (performance.now() - started < budgetMs || samples.length < 20)) {
    const text = c.make();
    const s = performance.now();
    rows = run(text, c.allPages);
    samples.push(performance.now() - s);
  }
  lines.push(
    `| ${c.name} | ${samples.length} | ${rows} | ${percentile(samples, 50).toFixed(2)} | ${percentile(samples, 99).toFixed(2)} |`,
  );
  console.error(lines[lines.length - 1]);
}

// A 10-hop path: machine 0 of a line feeds machine 1 … feeds machine 10.
const start = plant.machines[0] as string;
const s10 = performance.now();
const ten = executeQuery(
  graph,
  `SELECT b.$dtId AS id FROM DIGITALTWINS MATCH (a)-[:feeds*10]->(b) WHERE a.$dtId = '${start}'`,
  opts,
);
const tenMs = performance.now() - s10;
const upTo = executeQuery(
  graph,
  `SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:feeds*..24]->(b) WHERE a.$dtId = '${start}'`,
  opts,
);
lines.push(
  '',
  `10-hop path: \`MATCH (a)-[:feeds*10]->(b) WHERE a.$dtId = '${start}'\` → ${JSON.stringify(ten.value)} in ${tenMs.toFixed(2)} ms; ` +
    `\`*..24\` (1 to 24 hops) from the same machine → ${JSON.stringify(upTo.value)} (the rest of its 25-machine line).`,
);
report('Query benchmark (bench/query/run.ts)', `npm run bench:query${quick ? ' -- --quick' : ''}`, lines);
