/**
 * The system under test for bench/analytics, in its own process: the REAL platform (startPlatform:
 * embedded aedes, ingest, SQLite synchronous=FULL in a temp data folder, the pump-line pilot, HTTP,
 * live hub, event routes, and the streaming analytics when on), simulator and shadow mode off, ports
 * chosen by the OS, plus N extra pumps of the pilot's Pump model created through the twin service.
 * argv: dataDir on|off twins
 * Messages: → ready {port}; 'mark' → stats {acceptedMessages, t, cpuMs, threads, rss, analytics};
 * 'count' → rows {rows, series}; 'stop'.
 */
import { pino } from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { threadCpuMs } from '../thread-cpu.js';

const [dataDir = '', mode = 'on', twinsS = '1000'] = process.argv.slice(2);
const TWINS = Number(twinsS);
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
/** The Pump telemetry the load generator sends ('pumpline' payload): the readings counted. */
const TELEMETRY = new Set(['vibration', 'temperature', 'flow', 'dischargePressure', 'running']);
const send = (m: unknown) => process.send?.(m);

const config = resolveConfig([
  cliLayer({
    data: dataDir,
    httpPort: '0',
    mqttPort: '0',
    logLevel: 'warn',
    pilot: 'pump-line',
    sim: 'off',
    shadow: 'off',
  }),
  {
    history: { synchronous: 'FULL' },
    // 'on': the operators in the analytics worker thread, in SCHED_IDLE (the default); 'thread': on
    // the ingest thread; 'every': in the worker, with every derived value stored (analytics.deadbands
    // false); 'same': in the worker at the ingest thread's priority (workerIdle false, workerNice 0);
    // 'nice10', 'nice19': in the worker at that nice value, not SCHED_IDLE.
    analytics: {
      enabled: mode !== 'off',
      worker: mode !== 'thread',
      deadbands: mode !== 'every',
      ...(mode === 'same'
        ? { workerIdle: false, workerNice: 0 }
        : mode === 'nice10'
          ? { workerIdle: false, workerNice: 10 }
          : mode === 'nice19'
            ? { workerIdle: false, workerNice: 19 }
            : {}),
    },
  },
]);
const platform = await startPlatform(config, {
  logger: pino({ level: 'warn', base: { app: 'twinloop-bench' } }),
  banner: false,
});
for (let i = 1; i <= TWINS; i++)
  await platform.twins.createOrReplace(`pump-${i}`, {
    $metadata: { $model: PUMP },
    serialNumber: `BENCH-${i}`,
    vibrationLimit: 7.1,
    flowSetpoint: 42,
    motor: { $metadata: {}, ratedPower: 15 },
  });

/** The twinloop_analytics_* figures of the platform's /metrics registry (absent when off), and the history commits. */
async function analyticsMetrics(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of await platform.metrics.getMetricsAsJSON()) {
    if (m.name.startsWith('twinloop_analytics_'))
      out[m.name.replace('twinloop_analytics_', '')] = Number(m.values[0]?.value ?? 0);
    // The history group commits (both variants): how many, and the time spent in them.
    if (m.name === 'twinloop_history_commit_seconds')
      for (const v of m.values as { metricName?: string; value: number }[]) {
        if (v.metricName?.endsWith('_count')) out.commits = v.value;
        if (v.metricName?.endsWith('_sum')) out.commitSeconds = v.value;
      }
  }
  return out;
}

const port = Number(new URL(platform.runtime.mqttUrl).port);
send({ type: 'ready', port });

process.on('message', (m: { type: string }) => {
  if (m.type === 'mark') {
    void analyticsMetrics().then((analytics) => {
      const cpu = process.cpuUsage();
      send({
        type: 'stats',
        acceptedMessages: platform.ingest.stats.snapshot().acceptedMessages,
        derivedReadings: platform.ingest.stats.snapshot().derivedReadings,
        t: Date.now(),
        cpuMs: (cpu.user + cpu.system) / 1000,
        threads: threadCpuMs(),
        rss: process.memoryUsage().rss,
        analytics,
      });
    });
  } else if (m.type === 'count') {
    void (async () => {
      const history = platform.storage.history;
      let rows = 0;
      let series = 0;
      for (const s of await history.listSeries('default')) {
        if (!s.twinId.startsWith('pump-') || !TELEMETRY.has(s.path)) continue;
        if (!/^pump-\d+$/.test(s.twinId)) continue; // the pilot's own pumps (pump-1a …) get no load
        series++;
        const [b] = await history.queryAggregate({
          workspace: 'default',
          twinId: s.twinId,
          path: s.path,
          from: 0,
          to: 8.64e15,
          interval: 8.64e15,
          fns: ['count'],
        });
        rows += b?.count ?? 0;
      }
      send({ type: 'rows', rows, series });
    })();
  } else if (m.type === 'stop') {
    void platform.stop().then(() => process.exit(0));
  }
});
