/**
 * Child of alarm-crash.int.test.ts: raises alarms of five twins at full speed through the alarm
 * service on a SQLite data folder (synchronous=FULL), clears one by hand now and then, and prints
 * what is durable: "ACK <json raises per twin>" after each flush, "CLR <id>" after each clear. The
 * parent kills it with SIGKILL at a random moment.
 *
 * Usage: node --import tsx alarm-crash-child.ts <dataDir>
 */
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { AlarmService } from '../../src/analytics/alarms/alarm-service.js';

const [dataDir] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: alarm-crash-child.ts <dataDir>\n');
  process.exit(2);
}
const storage = openSqliteStorage({ dataDir, synchronous: 'FULL' });
const alarms = new AlarmService({ store: storage.alarms, batchDelayMs: 2 });
const TWINS = ['t0', 't1', 't2', 't3', 't4'];
const raised: Record<string, number> = Object.fromEntries(TWINS.map((t) => [t, 0]));
let time = Date.now();
process.stdout.write('START\n');
for (let round = 0; ; round++) {
  for (let i = 0; i < 300; i++) {
    const twinId = TWINS[i % TWINS.length]!;
    raised[twinId]!++;
    alarms.raise({
      workspace: 'crash',
      twinId,
      ruleId: 'r',
      ruleVersion: 1,
      severity: 'major',
      message: `raise ${raised[twinId]}`,
      time: time++,
    });
  }
  await alarms.flush();
  process.stdout.write(`ACK ${JSON.stringify(raised)}\n`);
  if (round % 7 === 3) {
    const open = await storage.alarms.open('crash', 't0', 'r');
    if (open) {
      await alarms.clear('crash', open.id, 'crash-test', `round ${round}`);
      process.stdout.write(`CLR ${open.id}\n`);
    }
  }
}
