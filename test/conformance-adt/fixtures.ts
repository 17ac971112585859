/**
 * The models and the small fixed graph the ADT conformance suite builds on the server under test.
 * Each area has its own model namespace (dtmi:conf:<area>:...) and twin id prefix, so areas do not
 * see each other's data.
 */
import type { CheckContext } from './harness.js';
import { expectStatus, p } from './harness.js';

const v3 = 'dtmi:dtdl:context;3';
const v2 = 'dtmi:dtdl:context;2';

// ---- query area: a building with floors, rooms and sensors
export const Q = {
  space: 'dtmi:conf:q:Space;1',
  building: 'dtmi:conf:q:Building;1',
  floor: 'dtmi:conf:q:Floor;1',
  room: 'dtmi:conf:q:Room;1',
  thermostat: 'dtmi:conf:q:Thermostat;1',
  sensor: 'dtmi:conf:q:Sensor;1',
};

export const QUERY_MODELS = [
  {
    '@id': Q.space,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'name', schema: 'string' },
      { '@type': 'Property', name: 'group', schema: 'string' },
      {
        '@type': 'Relationship',
        name: 'contains',
        properties: [{ '@type': 'Property', name: 'since', schema: 'string' }],
      },
      { '@type': 'Relationship', name: 'feeds' },
    ],
  },
  { '@id': Q.building, '@type': 'Interface', '@context': v3, extends: Q.space },
  {
    '@id': Q.floor,
    '@type': 'Interface',
    '@context': v3,
    extends: Q.space,
    contents: [{ '@type': 'Property', name: 'level', schema: 'integer' }],
  },
  {
    '@id': Q.thermostat,
    '@type': 'Interface',
    '@context': v3,
    contents: [{ '@type': 'Property', name: 'setPoint', schema: 'double' }],
  },
  {
    '@id': Q.room,
    '@type': 'Interface',
    '@context': v3,
    extends: Q.space,
    contents: [
      { '@type': 'Property', name: 'temperature', schema: 'double' },
      { '@type': 'Property', name: 'humidity', schema: 'double' },
      { '@type': 'Property', name: 'occupied', schema: 'boolean' },
      { '@type': 'Property', name: 'tags', schema: { '@type': 'Array', elementSchema: 'string' } },
      {
        '@type': 'Property',
        name: 'info',
        schema: {
          '@type': 'Object',
          fields: [
            { name: 'floor', schema: 'integer' },
            { name: 'wing', schema: 'string' },
          ],
        },
      },
      { '@type': 'Component', name: 'thermostat', schema: Q.thermostat },
    ],
  },
  {
    '@id': Q.sensor,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'name', schema: 'string' },
      { '@type': 'Property', name: 'kind', schema: 'string' },
    ],
  },
];

const thermo = { $metadata: {} };

/**
 * q-B1 -contains-> q-F1, q-F2; q-F1 -contains-> q-R1 (since 2020), q-R2 (since 2021);
 * q-F2 -contains-> q-R3; q-R1 -contains-> q-S1; q-R3 -contains-> q-S2; q-R1 -feeds-> q-R2.
 * Hops from q-B1 along contains: F1, F2 = 1; R1, R2, R3 = 2; S1, S2 = 3.
 */
export const QUERY_TWINS: Record<string, Record<string, unknown>> = {
  'q-B1': { $metadata: { $model: Q.building }, name: 'Headquarters', group: 'alpha' },
  'q-F1': { $metadata: { $model: Q.floor }, name: 'Ground floor', level: 1 },
  'q-F2': { $metadata: { $model: Q.floor }, name: 'First floor', level: 2, group: 'beta' },
  'q-R1': {
    $metadata: { $model: Q.room },
    name: 'Lab',
    temperature: 20,
    humidity: 40,
    occupied: true,
    tags: ['north', 'quiet'],
    info: { floor: 1, wing: 'east' },
    group: 'alpha',
    thermostat: thermo,
  },
  'q-R2': {
    $metadata: { $model: Q.room },
    name: 'Meeting room',
    temperature: 22,
    occupied: false,
    tags: ['south'],
    thermostat: thermo,
  },
  'q-R3': { $metadata: { $model: Q.room }, name: "Chef's kitchen", temperature: 25, thermostat: thermo },
  'q-S1': { $metadata: { $model: Q.sensor }, name: 'Lab sensor', kind: 'co2' },
  'q-S2': { $metadata: { $model: Q.sensor }, name: 'Kitchen sensor', kind: 'temperature' },
};

export const QUERY_RELATIONSHIPS = [
  { $sourceId: 'q-B1', $relationshipId: 'b1-f1', $targetId: 'q-F1', $relationshipName: 'contains' },
  { $sourceId: 'q-B1', $relationshipId: 'b1-f2', $targetId: 'q-F2', $relationshipName: 'contains' },
  {
    $sourceId: 'q-F1',
    $relationshipId: 'f1-r1',
    $targetId: 'q-R1',
    $relationshipName: 'contains',
    since: '2020',
  },
  {
    $sourceId: 'q-F1',
    $relationshipId: 'f1-r2',
    $targetId: 'q-R2',
    $relationshipName: 'contains',
    since: '2021',
  },
  { $sourceId: 'q-F2', $relationshipId: 'f2-r3', $targetId: 'q-R3', $relationshipName: 'contains' },
  { $sourceId: 'q-R1', $relationshipId: 'r1-s1', $targetId: 'q-S1', $relationshipName: 'contains' },
  { $sourceId: 'q-R3', $relationshipId: 'r3-s2', $targetId: 'q-S2', $relationshipName: 'contains' },
  { $sourceId: 'q-R1', $relationshipId: 'r1-r2', $targetId: 'q-R2', $relationshipName: 'feeds' },
];

/** Uploads the models (or finds them there) and creates the graph, by raw REST. */
export async function buildQueryGraph(ctx: CheckContext): Promise<void> {
  await ctx.once('query-graph', async () => {
    const up = await ctx.rest.post('/models', QUERY_MODELS);
    if (up.status !== 409) expectStatus(up, 201);
    for (const [id, twin] of Object.entries(QUERY_TWINS))
      expectStatus(await ctx.rest.put(p`/digitaltwins/${id}`, twin), 200);
    for (const r of QUERY_RELATIONSHIPS)
      expectStatus(
        await ctx.rest.put(p`/digitaltwins/${r.$sourceId}/relationships/${r.$relationshipId}`, r),
        200,
      );
  });
}

// ---- twins, components and relationships areas
export const T = {
  thermostat: 'dtmi:conf:t:Thermostat;1',
  room: 'dtmi:conf:t:Room;1',
  hall: 'dtmi:conf:t:Hall;1',
  sensor: 'dtmi:conf:t:Sensor;1',
};

export const TWIN_MODELS = [
  {
    '@id': T.thermostat,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'setPoint', schema: 'double' },
      { '@type': 'Property', name: 'mode', schema: 'string' },
      { '@type': 'Telemetry', name: 'reading', schema: 'double' },
    ],
  },
  {
    '@id': T.sensor,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'kind', schema: 'string' },
      { '@type': 'Telemetry', name: 'value', schema: 'double' },
    ],
  },
  {
    '@id': T.room,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'temperature', schema: 'double' },
      { '@type': 'Property', name: 'name', schema: 'string' },
      { '@type': 'Telemetry', name: 'humidity', schema: 'double' },
      { '@type': 'Component', name: 'thermostat', schema: T.thermostat },
      {
        '@type': 'Relationship',
        name: 'contains',
        target: T.sensor,
        properties: [{ '@type': 'Property', name: 'since', schema: 'string' }],
      },
      { '@type': 'Relationship', name: 'next' },
    ],
  },
  {
    // Same shape as Room: a twin of Room validates against Hall, so $model may move to it.
    '@id': T.hall,
    '@type': 'Interface',
    '@context': v3,
    contents: [
      { '@type': 'Property', name: 'temperature', schema: 'double' },
      { '@type': 'Property', name: 'name', schema: 'string' },
      { '@type': 'Component', name: 'thermostat', schema: T.thermostat },
      { '@type': 'Relationship', name: 'next' },
    ],
  },
];

export function room(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { $metadata: { $model: T.room }, thermostat: { $metadata: {} }, ...extra };
}
export function sensor(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { $metadata: { $model: T.sensor }, ...extra };
}

/** Uploads the twin models once. */
export async function twinModels(ctx: CheckContext): Promise<void> {
  await ctx.once('twin-models', async () => {
    const up = await ctx.rest.post('/models', TWIN_MODELS);
    if (up.status !== 409) expectStatus(up, 201);
  });
}

/** Creates (or replaces) a twin by raw REST and answers its etag. */
export async function putTwin(ctx: CheckContext, id: string, twin: Record<string, unknown>): Promise<string> {
  await twinModels(ctx);
  const res = await ctx.rest.put(p`/digitaltwins/${id}`, twin);
  expectStatus(res, 200);
  return res.headers.get('etag') ?? (res.body as { $etag?: string }).$etag ?? '';
}

export async function putRel(
  ctx: CheckContext,
  source: string,
  id: string,
  target: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await ctx.rest.put(p`/digitaltwins/${source}/relationships/${id}`, {
    $relationshipId: id,
    $sourceId: source,
    $targetId: target,
    $relationshipName: name,
    ...extra,
  });
  expectStatus(res, 200);
  return res.headers.get('etag') ?? '';
}

// ---- models area
export const M = {
  v2: 'dtmi:conf:m:V2Thing;1',
  v3: 'dtmi:conf:m:V3Thing;1',
  sdkV3: 'dtmi:conf:m:SdkThing;1',
  depTop: 'dtmi:conf:m:DepTop;1',
  depBase: 'dtmi:conf:m:DepBase;1',
  depPart: 'dtmi:conf:m:DepPart;1',
  depOther: 'dtmi:conf:m:DepOther;1',
  base: 'dtmi:conf:m:Base;1',
  derived: 'dtmi:conf:m:Derived;1',
  peerA: 'dtmi:conf:m:PeerA;1',
  peerB: 'dtmi:conf:m:PeerB;1',
  old: 'dtmi:conf:m:Old;1',
};

export const iface = (
  id: string,
  context: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  '@id': id,
  '@type': 'Interface',
  '@context': context,
  ...extra,
});

export const V2_MODEL = iface(M.v2, v2, {
  displayName: 'A DTDL v2 model',
  contents: [
    { '@type': 'Property', name: 'label', schema: 'string', writable: true },
    { '@type': 'Telemetry', name: 'temp', schema: 'double' },
    { '@type': 'Relationship', name: 'near', target: M.v2 },
  ],
});
export const V3_MODEL = iface(M.v3, v3, {
  displayName: { en: 'A DTDL v3 model' },
  contents: [{ '@type': 'Property', name: 'label', schema: 'string' }],
});
export const DEP_MODELS = [
  iface(M.depBase, v3, { contents: [{ '@type': 'Property', name: 'b', schema: 'string' }] }),
  iface(M.depPart, v3, { contents: [{ '@type': 'Property', name: 'c', schema: 'string' }] }),
  iface(M.depOther, v3),
  iface(M.depTop, v3, {
    extends: M.depBase,
    contents: [{ '@type': 'Component', name: 'part', schema: M.depPart }],
  }),
];
export { v2 as DTDL_V2, v3 as DTDL_V3 };
