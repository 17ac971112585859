/**
 * Child of history-crash.int.test.ts: appends to the history of a data folder at full speed and
 * prints "ACK <seq>" once the appends up to that sequence number are acknowledged (their promises
 * resolved). The parent kills it with SIGKILL at a random moment.
 *
 * Usage: node --import tsx history-crash-child.ts <dataDir> <FULL|NORMAL>
 */
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';

const [dataDir, sync] = process.argv.slice(2);
if (!dataDir || (sync !== 'FULL' && sync !== 'NORMAL')) {
  process.stderr.write('usage: history-crash-child.ts <dataDir> <FULL|NORMAL>\n');
  process.exit(2);
}
// Small compaction thresholds so kills also land during compactions and tier merges.
const storage = openSqliteStorage({
  dataDir,
  synchronous: sync,
  history: { compactMaxPoints: 30_000, compactIntervalMs: 50, chunkPoints: 1024, compactSlicePoints: 2_000 },
});
const SERIES = ['a', 'b', 'c'];
const last = (await storage.history.listSeries('crash', 'twin')).find((s) => s.path === 'a');
let seq = last ? (last.lastValue as number) + 1 : 0;
process.stdout.write(`START ${seq}\n`);

for (;;) {
  const pending: Promise<void>[] = [];
  const first = seq;
  for (let m = 0; m < 200; m++, seq++) {
    const pts: HistoryPoint[] = SERIES.map((path) => ({
      workspace: 'crash',
      twinId: 'twin',
      path,
      kind: 'telemetry',
      ts: seq,
      value: seq,
    }));
    // a non-numeric series too, every 10th message
    if (seq % 10 === 0)
      pts.push({
        workspace: 'crash',
        twinId: 'twin',
        path: 'state',
        kind: 'telemetry',
        ts: seq,
        value: { seq },
      });
    pending.push(storage.history.append(pts));
  }
  await Promise.all(pending);
  // Pipes are synchronous on Linux: the line is in the pipe before the next append starts.
  process.stdout.write(`ACK ${seq - 1} ${first}\n`);
}
