// Retention on real SQLite storage: cleared alarms past their days are pruned at start; open ones never.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import { clearAlarm, newAlarm, type AlarmRaiseInput } from '../../core/alarms/alarm.js';
import { startRetention } from './maintenance.js';

const DAY = 86_400_000;
const raise = (ruleId: string, time: number): AlarmRaiseInput => ({
  workspace: 'default',
  twinId: 'pump-1',
  ruleId,
  ruleVersion: 1,
  severity: 'minor',
  message: 'm',
  time,
});

describe('retention', () => {
  const fx = tempStorage();
  afterEach(async () => fx.cleanup());

  it('prunes cleared alarms older than alarms.retentionDays and keeps the rest', async () => {
    const now = Date.now();
    const alarms = fx.storage.alarms;
    await alarms.write(
      [
        clearAlarm(newAlarm('old', raise('r1', now - 10 * DAY)), 'condition', 'ok', now - 3 * DAY),
        clearAlarm(newAlarm('recent', raise('r2', now - 10 * DAY)), 'condition', 'ok', now - DAY / 2),
        newAlarm('open', raise('r3', now - 30 * DAY)),
      ].map((alarm) => ({ alarm, expectedRevision: 0 })),
    );
    const config = {
      history: { retentionDays: 0, synchronous: 'FULL' as const },
      deadLetters: { retentionDays: 7, maxMB: 256, maxPayloadBytes: 1024 },
      alarms: { retentionDays: 2 },
      control: {
        commandExpirySeconds: 600,
        maxCommandExpirySeconds: 86_400,
        maxQueuedPerTwin: 1000,
        retentionDays: 2,
      },
    };
    const command = (requestId: string) => ({
      workspace: 'default',
      requestId,
      twinId: 't1',
      command: 'go',
      createdAt: now - 10 * DAY,
      expiresAt: now + DAY,
    });
    await fx.storage.commands.add([command('done-long-ago'), command('still-open')]);
    await fx.storage.commands.transition([
      {
        workspace: 'default',
        requestId: 'done-long-ago',
        from: ['queued'],
        to: 'cancelled',
        at: now - 3 * DAY,
      },
    ]);
    const sub = await startRetention({ config, logger: pino({ level: 'silent' }), storage: fx.storage });
    await sub.close();
    expect(await alarms.get('default', 'old')).toBeUndefined();
    expect(await alarms.get('default', 'recent')).toBeDefined();
    expect(await alarms.get('default', 'open')).toBeDefined();
    // Finished commands older than control.retentionDays go; open ones stay, however old.
    expect(await fx.storage.commands.get('default', 'done-long-ago')).toBeUndefined();
    expect(await fx.storage.commands.get('default', 'still-open')).toBeDefined();
  });
});
