/**
 * The PropertyWriter against the real TwinService over SQLite: cadence (`every`, source time),
 * coalescing, deadband, one patch per twin, components, sourceTime, and failures (a deleted twin, a
 * patch the model refuses) counted, reported and never thrown.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import type { PropertyWritePolicy } from '../analytics-types.js';
import {
  ALL_MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { PropertyWriter, type PropertyWriterOptions } from './property-writer.js';

const ROOM = 'dtmi:test:Room;1';
const T0 = 1_700_000_000_000;
const MIN = 60_000;
const every1min: PropertyWritePolicy = { everyMs: MIN, deadband: 0, integer: false };
const iso = (t: number) => new Date(t).toISOString();

describe('PropertyWriter (real TwinService, SQLite)', () => {
  let w: TestWorkspace;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add(ALL_MODELS);
    for (const id of ['r1', 'r2', 'r3'])
      await w.twins.createOrReplace(id, { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
    w.events.length = 0;
  });
  afterEach(async () => w.close());

  const writer = (more: Partial<PropertyWriterOptions> = {}) => {
    const errors: { error: unknown; twinId: string; names: string[] }[] = [];
    const pw = new PropertyWriter({
      patch: (_ws, id, ops) => w.twins.update(id, ops),
      has: (_ws, id, name) => {
        const [a, b] = name.split('.');
        const c = w.graph.getTwin(id)?.contents;
        const v = b === undefined ? c?.[a!] : (c?.[a!] as Record<string, unknown> | undefined)?.[b];
        return v !== undefined;
      },
      isGone: (e) => e instanceof TwinloopError && e.code === 'DigitalTwinNotFound',
      onError: (error, where) => errors.push({ error, twinId: where.twinId, names: where.names }),
      ...more,
    });
    return { pw, errors };
  };
  const twin = (id: string) => w.graph.getTwin(id)!;
  const patches = (id: string) =>
    w.events.flatMap((e) => (e.type === 'propertyChange' && e.twinId === id ? [e.patch] : []));

  it('writes the first value at once, then the latest value at most every `every` (source time)', async () => {
    const { pw } = writer();
    const etag0 = twin('r1').etag;
    pw.write('default', 'r1', T0, 'temperature', 20, every1min);
    expect(twin('r1').contents.temperature).toBeUndefined(); // in the background, never in the caller's turn
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20);
    expect(twin('r1').sourceTimes?.temperature).toBe(iso(T0));
    const etag1 = twin('r1').etag;
    expect(etag1).not.toBe(etag0);
    expect(patches('r1')).toEqual([
      [
        { op: 'add', path: '/temperature', value: 20 },
        { op: 'add', path: '/$metadata/temperature/sourceTime', value: iso(T0) },
      ],
    ]);

    // Within a minute of the last write: kept, the latest replacing the earlier (coalescing).
    pw.write('default', 'r1', T0 + 10_000, 'temperature', 21, every1min);
    pw.write('default', 'r1', T0 + 20_000, 'temperature', 22, every1min);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20);
    expect(pw.stats()).toMatchObject({ written: 1, skipped: 1, pendingTwins: 1 });
    pw.tick(T0 + MIN - 1);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20);
    pw.tick(T0 + MIN);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(22);
    expect(twin('r1').sourceTimes?.temperature).toBe(iso(T0 + 20_000));
    expect(twin('r1').etag).not.toBe(etag1);
    expect(patches('r1')[1]?.[0]).toEqual({ op: 'replace', path: '/temperature', value: 22 });

    // A minute after the last write's source time (T0 + 20 s): due as it comes.
    pw.write('default', 'r1', T0 + 80_000, 'temperature', 23, every1min);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(23);
    // Older than the last write: never written over it.
    pw.write('default', 'r1', T0 + 79_000, 'temperature', 5, every1min);
    pw.tick(T0 + 10 * MIN);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(23);
    expect(pw.stats()).toEqual({
      written: 3,
      failed: 0,
      skipped: 2,
      dropped: 0,
      pendingTwins: 0,
      inFlight: 0,
    });
    // Each write is a versioned twin update with its property history, like a PATCH of the API.
    const page = await w.storage.history.queryRaw({
      workspace: 'default',
      twinId: 'r1',
      path: 'temperature',
      from: 0,
      to: Date.now() + 60_000,
      limit: 10,
    });
    expect(page.points.map((p) => p.value)).toEqual([20, 22, 23]);
  });

  it("puts a twin's due properties in one patch, components' included, and twins side by side", async () => {
    const { pw } = writer();
    pw.write('default', 'r1', T0, 'temperature', 19.5, every1min);
    pw.write('default', 'r1', T0, 'thermostat.setPoint', 21, every1min);
    pw.write('default', 'r2', T0, 'temperature', 18, every1min);
    await pw.flush();
    expect(twin('r1').contents).toMatchObject({ temperature: 19.5, thermostat: { setPoint: 21 } });
    expect(twin('r2').contents.temperature).toBe(18);
    expect(patches('r1')).toEqual([
      [
        { op: 'add', path: '/temperature', value: 19.5 },
        { op: 'add', path: '/$metadata/temperature/sourceTime', value: iso(T0) },
        { op: 'add', path: '/thermostat/setPoint', value: 21 },
        { op: 'add', path: '/thermostat/$metadata/setPoint/sourceTime', value: iso(T0) },
      ],
    ]);
    expect(twin('r1').sourceTimes?.['thermostat/setPoint']).toBe(iso(T0));
    expect(pw.stats().written).toBe(3);
  });

  it('writes only changes beyond the deadband', async () => {
    const { pw } = writer();
    const band: PropertyWritePolicy = { everyMs: MIN, deadband: 0.5, integer: false };
    pw.write('default', 'r1', T0, 'temperature', 20, band);
    await pw.flush();
    pw.write('default', 'r1', T0 + 2 * MIN, 'temperature', 20.4, band); // within 0.5: skipped
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20);
    expect(pw.stats()).toMatchObject({ written: 1, skipped: 1, pendingTwins: 0 });
    pw.write('default', 'r1', T0 + 3 * MIN, 'temperature', 20.6, band);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20.6);
    // A value that waited for `every` and then came back within the band is not written either.
    pw.write('default', 'r1', T0 + 3 * MIN + 1000, 'temperature', 25, band);
    pw.write('default', 'r1', T0 + 3 * MIN + 2000, 'temperature', 20.7, band);
    pw.tick(T0 + 5 * MIN);
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(20.6);
    // Deadband 0: any change, but not the same value again.
    pw.write('default', 'r2', T0, 'temperature', 7, every1min);
    await pw.flush();
    pw.write('default', 'r2', T0 + 2 * MIN, 'temperature', 7, every1min);
    await pw.flush();
    expect(patches('r2')).toHaveLength(1);
    expect(pw.stats()).toMatchObject({ written: 3, skipped: 4, failed: 0 });
  });

  it('counts and reports failed patches (deleted twin, refused value) without throwing, then goes on', async () => {
    const { pw, errors } = writer();
    await w.twins.delete('r3');
    pw.write('default', 'r3', T0, 'temperature', 1, every1min);
    // `name` is a string in the model (as after a model change): the patch is refused, the twin unchanged.
    pw.write('default', 'r1', T0, 'name', 3, every1min);
    pw.write('default', 'r2', T0, 'temperature', 4, every1min);
    await pw.flush();
    expect(pw.stats()).toMatchObject({ written: 1, failed: 2, pendingTwins: 0, inFlight: 0 });
    expect(errors.map((e) => [e.twinId, (e.error as TwinloopError).code, e.names]).sort()).toEqual([
      ['r1', 'ValidationFailed', ['name']],
      ['r3', 'DigitalTwinNotFound', ['temperature']],
    ]);
    expect(twin('r1').contents.name).toBeUndefined();
    expect(twin('r2').contents.temperature).toBe(4);
    // The refused property is tried again, but no sooner than `every` after the failed attempt.
    pw.write('default', 'r1', T0 + 1000, 'name', 3, every1min);
    await pw.flush();
    expect(errors).toHaveLength(2);
    pw.tick(T0 + MIN);
    await pw.flush();
    expect(errors).toHaveLength(3);
    expect(pw.stats()).toMatchObject({ written: 1, failed: 3 });
    // The deleted twin was forgotten; a twin created again with its id starts afresh.
    await w.twins.createOrReplace('r3', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
    pw.write('default', 'r3', T0 + 1000, 'temperature', 2, every1min);
    await pw.flush();
    expect(twin('r3').contents.temperature).toBe(2);
    // A reporter that throws changes nothing.
    const bad = writer({
      onError: () => {
        throw new Error('reporter down');
      },
    }).pw;
    bad.write('default', 'nope', T0, 'temperature', 1, every1min);
    await bad.flush();
    expect(bad.stats().failed).toBe(1);
  });

  it('is bounded (twins tracked, patches in flight) and coalesces what waits; every value ends counted once', async () => {
    const { pw } = writer({ maxTwins: 2, maxInFlight: 1 });
    let handed = 0;
    const put = (id: string, t: number, x: number) => {
      handed++;
      pw.write('default', id, t, 'temperature', x, every1min);
    };
    put('r1', T0, 1);
    put('r2', T0, 2);
    put('r3', T0, 3); // a third twin: dropped
    await pw.flush(); // one patch in flight at a time: r1's, then r2's
    expect(twin('r1').contents.temperature).toBe(1);
    expect(twin('r2').contents.temperature).toBe(2);
    expect(twin('r3').contents.temperature).toBeUndefined();
    put('r1', T0 + 1000, 4); // waits for `every`
    put('r1', T0 + 2000, 4.5); // replaces it
    put('r2', T0 + 1000, NaN); // not finite: skipped
    await pw.flush();
    expect(twin('r1').contents.temperature).toBe(1);
    const s = pw.stats();
    expect(s).toEqual({ written: 2, failed: 0, skipped: 2, dropped: 1, pendingTwins: 1, inFlight: 0 });
    expect(s.written + s.failed + s.skipped + s.dropped + 1).toBe(handed); // + the one pending
    pw.forgetTwin('default', 'r1');
    expect(pw.stats()).toMatchObject({ skipped: 3, pendingTwins: 0 });
    put('r3', T0, 3); // room again
    await pw.flush();
    expect(twin('r3').contents.temperature).toBe(3);
  });
});
