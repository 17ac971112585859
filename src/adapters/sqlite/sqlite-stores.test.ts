import { describe, expect, it } from 'vitest';
import { describeDeadLetterStoreContract } from '../../core/ports/dead-letter-store.contract.js';
import { describeModelStoreContract } from '../../core/ports/model-store.contract.js';
import { describeTwinStoreContract } from '../../core/ports/twin-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeModelStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.models,
    reopen: async () => (await fx.reopen()).models,
    cleanup: () => fx.cleanup(),
  };
});

describeTwinStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.twins,
    history: fx.storage.history,
    reopen: async () => {
      const s = await fx.reopen();
      return { store: s.twins, history: s.history };
    },
    cleanup: () => fx.cleanup(),
  };
});

describeDeadLetterStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.deadLetters,
    reopen: async () => (await fx.reopen()).deadLetters,
    cleanup: () => fx.cleanup(),
  };
});

describe('SqliteDeadLetterStore extras', () => {
  it('filters by the twin a dead letter names, and commits one tick of adds in one go', async () => {
    const fx = tempStorage();
    try {
      const dl = fx.storage.deadLetters;
      const base = {
        workspace: 'ws',
        time: 1,
        source: 'mqtt',
        payload: Buffer.from('x'),
        code: 'InvalidTelemetry',
        reason: 'r',
      };
      await Promise.all([
        dl.add([{ ...base, twinId: 'pump-1' }]),
        dl.add([{ ...base, twinId: 'pump-2' }]),
        dl.add([base]),
      ]);
      expect((await dl.list({ workspace: 'ws', limit: 10, twinId: 'pump-1' })).map((d) => d.twinId)).toEqual([
        'pump-1',
      ]);
      expect(await dl.count('ws')).toBe(3);
      await expect(dl.list({ workspace: 'ws', limit: 0 })).rejects.toMatchObject({ code: 'BadRequest' });
    } finally {
      await fx.cleanup();
    }
  });

  it('loads many twins with telemetry by streaming', async () => {
    const fx = tempStorage();
    try {
      const { twins, history } = fx.storage;
      const N = 20_000;
      await twins.commit([
        {
          ops: Array.from({ length: N }, (_, i) => ({
            op: 'putTwin' as const,
            twin: {
              id: `t${i}`,
              modelId: 'dtmi:m;1',
              workspace: 'ws',
              etag: 'e',
              lastUpdateTime: 1,
              contents: { i },
              propertyTimes: {},
              telemetry: {},
            },
          })),
        },
      ]);
      await history.append(
        Array.from({ length: N }, (_, i) => ({
          workspace: 'ws',
          twinId: `t${i}`,
          path: 'v',
          kind: 'telemetry' as const,
          ts: 5,
          value: i,
        })),
      );
      let n = 0;
      let ok = 0;
      for await (const t of twins.loadTwins('ws')) {
        n++;
        if (t.telemetry['v']?.value === t.contents['i']) ok++;
      }
      expect(n).toBe(N);
      expect(ok).toBe(N);
    } finally {
      await fx.cleanup();
    }
  });
});
