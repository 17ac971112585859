import { pgTestDatabase } from './src/adapters/postgres/pg-test-fixture.ts';
import { PG_HISTORY_MIGRATIONS, PgHistoryStore } from './src/adapters/postgres/pg-history-store.ts';
const db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
try {
  const s = await PgHistoryStore.open(db, { rollupEveryMs: 0, write: 'copy' });
  const now = Date.now();
  const N = 300_000;
  for (let i = 0; i < N; i += 5000) {
    const pts = Array.from({ length: 5000 }, (_, j) => ({ workspace: 'w', twinId: `d${(i + j) % 1000}`, path: `r${j % 5}`, kind: 'telemetry' as const, ts: now - 60_000 + ((i + j) / N) * 60_000, value: j }));
    await s.append(pts);
  }
  for (const at of [now + 20_000, now + 80_000]) {
    const t0 = performance.now();
    const r = await s.rollUp(at);
    console.log('rollUp', JSON.stringify(r), (performance.now() - t0).toFixed(0), 'ms');
  }
  await s.close();
} finally { await db.drop(); }
