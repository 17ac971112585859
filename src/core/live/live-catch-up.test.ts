import { describe, expect, it } from 'vitest';
import { CatchUpQueue } from './live-catch-up.js';
import type { LiveEvent } from './live-events.js';

const tel = (twinId: string, values: Record<string, unknown>, time = 1, component?: string): LiveEvent => ({
  type: 'telemetry',
  workspace: 'default',
  twinId,
  modelId: 'dtmi:ex:Pump;1',
  ...(component !== undefined ? { component } : {}),
  time,
  values,
});

describe('CatchUpQueue.serialise', () => {
  it('gives the held events, merged, as one JSON array', () => {
    const q = new CatchUpQueue({ maxEvents: 100, lifecycleReserve: 10 });
    q.fold(['p1', 'p2', 'p3'].map((id) => tel(id, { x: 1 })));
    expect(JSON.parse(q.serialise())).toEqual(['p1', 'p2', 'p3'].map((id) => tel(id, { x: 1 })));
    q.fold([tel('p2', { y: 2 }, 5), tel('p2', { x: 3 }, 4, 'c'), tel('p2', { x: 4 }, 6, 'c')]);
    expect(JSON.parse(q.serialise())).toEqual([
      tel('p1', { x: 1 }),
      tel('p2', { x: 1, y: 2 }, 5),
      tel('p3', { x: 1 }),
      tel('p2', { x: 4 }, 6, 'c'),
    ]);
    expect(q.coalesced).toBe(2);
  });

  it('serialises an empty catch-up as an empty array', () => {
    expect(new CatchUpQueue({ maxEvents: 1, lifecycleReserve: 0 }).serialise()).toBe('[]');
  });
});
