/**
 * Test support (run as a child process with a small heap by history-import-memory.int.test.ts): writes
 * a delimited file of `mb` MiB with wide rows (a long skipped text column, one bad value every 1,000
 * rows) into an imports folder, imports it through the real runner, file adapter and SQLite history,
 * and prints one JSON line with the outcome and the peak heap (as sampled, and live after a full
 * collection) and RSS while it ran.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileImportIo } from '../../src/adapters/files/file-import-io.js';
import { runHistoryImport } from '../../src/core/history-import/history-import-runner.js';
import { parseHistoryMapping } from '../../src/core/history-import/history-mapping.js';
import { serviceHistoryTarget } from '../../src/core/history-import/service-target.js';
import { openTestWorkspace } from '../adt-sdk/workspace-fixture.js';

const [dir, mbArg] = process.argv.slice(2);
const bytes = Number(mbArg) * 1048576;
const io = new FileImportIo({
  importsDir: path.join(dir!, 'imports'),
  logsDir: path.join(dir!, 'jobs'),
  maxInputBytes: 1 << 30,
  httpInput: false,
  httpTimeoutMs: 1000,
});
const file = path.join(io.folder, 'wide.csv');
const fd = fs.openSync(file, 'w');
const note = 'n'.repeat(400);
let rows = 0;
let written = 0;
fs.writeSync(fd, 'unit,cycle,value,note\n');
while (written < bytes) {
  let block = '';
  for (let i = 0; i < 1000; i++) {
    rows++;
    const value = rows % 1000 === 0 ? 'oops' : (rows % 97).toFixed(1);
    block += `${1 + (rows % 5)},${rows},${value},"${note}"\n`;
  }
  written += fs.writeSync(fd, block);
}
fs.closeSync(fd);

const w = await openTestWorkspace({ dir: path.join(dir!, 'data') });
await w.models.add([
  {
    '@id': 'dtmi:test:Wide;1',
    '@type': 'Interface',
    '@context': 'dtmi:dtdl:context;3',
    contents: [{ '@type': 'Telemetry', name: 'value', schema: 'double' }],
  },
]);
// heapUsed sampled as it runs includes garbage the young generation has not collected yet (it
// varies with GC timing and machine load); the live heap (after a full collection, every 250 ms and
// at the end) is what bounded memory means. The child runs with --expose-gc.
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('Run with --expose-gc.');
let peakHeap = 0;
let peakLiveHeap = 0;
let peakRss = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakRss = Math.max(peakRss, m.rss);
};
const sampleLive = () => {
  gc();
  peakLiveHeap = Math.max(peakLiveHeap, process.memoryUsage().heapUsed);
};
const timer = setInterval(sample, 20);
const liveTimer = setInterval(sampleLive, 250);
const input = await io.openInput(pathToFileURL(file).href);
const badRows = await io.openBadRows('mem');
const r = await runHistoryImport({
  fileName: 'wide.csv',
  input: input.stream,
  ...(input.totalBytes !== undefined ? { totalBytes: input.totalBytes } : {}),
  mapping: parseHistoryMapping({
    twin: { template: 'wide-{unit}' },
    time: { column: 'cycle', format: 'epoch-s' },
    telemetry: { value: 'value' },
    createTwins: { model: 'dtmi:test:Wide;1' },
  }),
  target: serviceHistoryTarget({
    workspace: 'default',
    models: w.models,
    graph: w.graph,
    twins: w.twins,
    history: w.storage.history,
  }),
  badRows,
  batchPoints: 5000,
  sliceMs: 10,
  maxRowBytes: 1 << 20,
  maxBadRows: 1_000_000,
  yieldNow: () => new Promise((res) => setImmediate(res)),
  cancelled: () => false,
  onProgress: sample,
  now: Date.now,
});
clearInterval(timer);
clearInterval(liveTimer);
sample();
sampleLive();
await badRows.close();
input.close();
const badLines = fs.readFileSync(io.badRowsPath('mem'), 'utf8').split('\n').length - 1;
await w.close();
console.log(
  JSON.stringify({
    status: r.status,
    progress: r.progress,
    rowsWritten: rows,
    fileBytes: written,
    peakHeap,
    peakLiveHeap,
    peakRss,
    badLines,
  }),
);
