/**
 * DTDL v2 models through the HTTP API, as a team migrating from Azure Digital Twins uploads them: the
 * upload, the original document back, twins (properties with semantic types, Maps, Enums, Objects,
 * components), relationships with properties, telemetry with units, IS_OF_MODEL through a v2 extends
 * chain, a v3 model extending a v2 one, and the refusals (a bad v2 model, v2 extending v3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { startTestServer, type TestServer } from '../../../test/adt-sdk/http-fixture.js';
import { V2, V2_MODELS, asset } from '../../../test/support/dtdl-v2-models.js';

const V = '?api-version=2023-10-31';
const json = (body: unknown) => ({
  payload: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
});
type Detail = { code: string; pointer: string };

describe('HTTP API with DTDL v2 models', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s.close());
  const inject = (o: InjectOptions) => s.http.app.inject(o);
  const put = (url: string, body: unknown) => inject({ method: 'PUT', url: `${url}${V}`, ...json(body) });

  it('uploads the v2 ontology and answers each model with its original document', async () => {
    const up = await inject({ method: 'POST', url: `/models${V}`, ...json(V2_MODELS) });
    expect(up.statusCode).toBe(201);
    expect(up.json()).toHaveLength(V2_MODELS.length);
    const one = await inject({
      method: 'GET',
      url: `/models/${encodeURIComponent(V2.asset)}${V}&includeModelDefinition=true`,
    });
    expect(one.statusCode).toBe(200);
    expect(one.json().model).toEqual(asset); // DTMI member names and @context last, as uploaded
    expect(one.json().displayName).toEqual({ en: 'Asset', sv: 'Tillgång', de: 'Anlage' });
  });

  it('validates twins against v2 models: semantic-typed numbers, Map, Enum, Object, inherited contents', async () => {
    const ok = await put('/digitaltwins/cr-1', {
      $metadata: { $model: V2.conferenceRoom },
      name: 'Ada',
      seats: 12,
      area: 42.5,
      temperatureSetpoint: 21,
      occupancy: 'vacant',
      customTags: { floor: '3', wing: 'east' },
      equipment: { projector: true, screenInches: 85 },
    });
    expect(ok.statusCode).toBe(200);
    const bad = await put('/digitaltwins/cr-2', {
      $metadata: { $model: V2.conferenceRoom },
      area: 'large',
      occupancy: 'busy',
      customTags: { floor: 3 },
      equipment: { projector: 'yes' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('ValidationFailed');
    const pointers = (bad.json().error.details as Detail[]).map((d) => d.pointer).sort();
    expect(pointers).toEqual(['/area', '/customTags/floor', '/equipment/projector', '/occupancy']);
  });

  it('components of a v2 model: created with the twin, patched, checked', async () => {
    const b = await put('/digitaltwins/b-1', {
      $metadata: { $model: V2.building },
      height: 30,
      weather: { $metadata: {}, pressureAlarm: 101.3 },
    });
    expect(b.statusCode).toBe(200);
    const badComp = await put('/digitaltwins/b-2', {
      $metadata: { $model: V2.building },
      weather: { $metadata: {}, pressureAlarm: 'high' },
    });
    expect(badComp.statusCode).toBe(400);
    expect((badComp.json().error.details as Detail[]).map((d) => d.pointer)).toEqual([
      '/weather/pressureAlarm',
    ]);
  });

  it('relationships with properties and a target checked through v2 extends', async () => {
    const rel = await put('/digitaltwins/cr-1/relationships/loc', {
      $targetId: 'b-1', // a Building extends Space, the declared target
      $relationshipName: 'locatedIn',
      since: '2024-05-01T00:00:00Z',
      confidence: 0.9,
    });
    expect(rel.statusCode).toBe(200);
    expect((await put('/digitaltwins/m-1', { $metadata: { $model: V2.meter } })).statusCode).toBe(200);
    const wrongTarget = await put('/digitaltwins/b-1/relationships/p1', {
      $targetId: 'm-1', // a meter is not a Space
      $relationshipName: 'hasPart',
    });
    expect(wrongTarget.statusCode).toBe(400);
    const badProp = await put('/digitaltwins/m-1/relationships/loc', {
      $targetId: 'b-1',
      $relationshipName: 'locatedIn',
      confidence: 'sure',
    });
    expect(badProp.statusCode).toBe(400);
    expect((badProp.json().error.details as Detail[]).map((d) => d.pointer)).toContain('/confidence');
  });

  it('IS_OF_MODEL follows v2 extends chains', async () => {
    const q = await inject({
      method: 'POST',
      url: `/query${V}`,
      ...json({ query: `SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '${V2.space}')` }),
    });
    expect(q.statusCode).toBe(200);
    const ids = (q.json().value as { $dtId: string }[]).map((r) => r.$dtId).sort();
    expect(ids).toEqual(['b-1', 'cr-1']);
  });

  it('telemetry of a v2 model: values checked, units matched against the v2 unit', async () => {
    const send = (body: unknown) =>
      inject({ method: 'POST', url: `/digitaltwins/cr-1/telemetry${V}`, ...json(body) });
    expect((await send({ temperature: 21.5, humidity: 40 })).statusCode).toBe(204);
    expect((await send({ temperature: { value: 21.5, unit: 'degreeCelsius' } })).statusCode).toBe(204);
    // Over ADT's route a value the model refuses answers 204, as ADT does, and is kept as a dead
    // letter with the reason (the Twinloop-Warning header says so).
    const wrongUnit = await send({ humidity: { value: 40, unit: 'unity' } });
    expect(wrongUnit.statusCode).toBe(204);
    expect(wrongUnit.headers['twinloop-warning']).toMatch(/^InvalidTelemetry: 1 value/);
    const hot = await send({ temperature: 'hot' });
    expect(hot.statusCode).toBe(204);
    expect(hot.headers['twinloop-warning']).toMatch(/^InvalidTelemetry: 1 value/);
    const dead = JSON.stringify((await inject({ method: 'GET', url: '/deadletters' })).json());
    // the model wrote the unit as "dtmi:dtdl:property:unit;2": "percent"
    expect(dead).toMatch(/'unity' of 'humidity'.*declares 'percent'/);
  });

  it('accepts a v3 model extending a v2 one; refuses a bad v2 model and v2 extending v3, with pointers', async () => {
    const v3 = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:example:v3:SmartRoom;1',
      '@type': 'Interface',
      extends: V2.room,
      contents: [
        { '@type': 'Property', name: 'scenes', schema: { '@type': 'Array', elementSchema: 'string' } },
      ],
    };
    expect((await inject({ method: 'POST', url: `/models${V}`, ...json([v3]) })).statusCode).toBe(201);
    const twin = await put('/digitaltwins/sr-1', {
      $metadata: { $model: v3['@id'] },
      scenes: ['day', 'night'],
      temperatureSetpoint: 20,
    });
    expect(twin.statusCode).toBe(200);

    const arrayInV2Property = {
      '@context': 'dtmi:dtdl:context;2',
      '@id': 'dtmi:example:v2:Bad;1',
      '@type': 'Interface',
      contents: [{ '@type': 'Property', name: 'xs', schema: { '@type': 'Array', elementSchema: 'double' } }],
    };
    const bad = await inject({ method: 'POST', url: `/models${V}`, ...json([arrayInV2Property]) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('DTDLParserError');
    expect(bad.json().error.details).toContainEqual(
      expect.objectContaining({ code: 'dtdl.property.schemaExcluded', pointer: '/contents/0/schema' }),
    );

    const v2OnV3 = {
      '@context': 'dtmi:dtdl:context;2',
      '@id': 'dtmi:example:v2:Downgrade;1',
      '@type': 'Interface',
      extends: v3['@id'],
    };
    const refused = await inject({ method: 'POST', url: `/models${V}`, ...json([v2OnV3]) });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.details).toContainEqual(
      expect.objectContaining({ code: 'dtdl.reference.version', pointer: '/extends' }),
    );
  });
});
