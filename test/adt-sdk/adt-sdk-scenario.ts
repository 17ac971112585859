/**
 * Run in a child process by adt-sdk.int.test.ts (so NODE_EXTRA_CA_CERTS can make Node trust the
 * test's self-signed certificate): the official @azure/digital-twins-core SDK drives a whole ADT
 * scenario against Twinloop over HTTPS. Prints one JSON line of observations; exits 1 on failure.
 */
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import type { TokenCredential } from '@azure/core-auth';
import { ALL_MODELS } from './workspace-fixture.js';

const url = process.argv[2];
if (!url) throw new Error('usage: adt-sdk-scenario.ts <https url>');

const credential: TokenCredential = {
  getToken: async () => ({ token: 'sdk-token', expiresOnTimestamp: Date.now() + 3600e3 }),
};
const client = new DigitalTwinsClient(url, credential);
const out: Record<string, unknown> = {};

async function status(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { statusCode?: number }).statusCode ?? String(e);
  }
}

/** ADT's error code of a failed call (RestError.code, from x-ms-error-code / error.code). */
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

async function main(): Promise<void> {
  const created = await client.createModels([...ALL_MODELS]);
  out.modelsCreated = created.length;
  const listed: string[] = [];
  for await (const page of client.listModels(undefined, true, 2).byPage())
    for (const m of page.value ?? []) listed.push(m.id);
  out.modelsListed = listed.sort();
  out.modelDefinitionId = ((await client.getModel('dtmi:test:Room;1', true)).model as { '@id': string })[
    '@id'
  ];

  const room = await client.upsertDigitalTwin(
    'room-1',
    JSON.stringify({
      $metadata: { $model: 'dtmi:test:Room;1' },
      temperature: 20,
      thermostat: { $metadata: {} },
    }),
  );
  out.roomEtagHeader = room.etag;
  out.roomEtagBody = (room.body as { $etag: string }).$etag;
  out.createOnlyAgain = await status(
    client.upsertDigitalTwin(
      'room-1',
      JSON.stringify({ $metadata: { $model: 'dtmi:test:Room;1' }, thermostat: { $metadata: {} } }),
      { ifNoneMatch: '*' },
    ),
  );
  for (let i = 0; i < 25; i++)
    await client.upsertDigitalTwin(
      `sensor-${i}`,
      JSON.stringify({ $metadata: { $model: 'dtmi:test:Sensor;1' }, kind: i % 2 ? 'co2' : 'temp' }),
    );

  const upd = await client.updateDigitalTwin('room-1', [{ op: 'replace', path: '/temperature', value: 23 }], {
    ifMatch: room.etag!,
  });
  out.updateEtagChanged = upd.etag !== undefined && upd.etag !== room.etag;
  out.staleUpdate = await status(
    client.updateDigitalTwin('room-1', [{ op: 'replace', path: '/temperature', value: 1 }], {
      ifMatch: room.etag!,
    }),
  );
  out.temperature = ((await client.getDigitalTwin('room-1')).body as { temperature: number }).temperature;
  await client.updateComponent('room-1', 'thermostat', [{ op: 'add', path: '/setPoint', value: 21 }]);
  out.setPoint = ((await client.getComponent('room-1', 'thermostat')).body as { setPoint: number }).setPoint;

  await client.upsertRelationship('room-1', 'c1', {
    $relationshipId: 'c1',
    $sourceId: 'room-1',
    $targetId: 'sensor-0',
    $relationshipName: 'contains',
  });
  await client.upsertRelationship('room-1', 'c2', {
    $targetId: 'sensor-1',
    $relationshipName: 'contains',
    since: '2024',
  });
  const rel = await client.getRelationship('room-1', 'c2');
  out.relEtag = typeof rel.etag === 'string';
  await client.updateRelationship('room-1', 'c2', [{ op: 'replace', path: '/since', value: '2025' }], {
    ifMatch: rel.etag!,
  });
  out.thirdContains = await status(
    client.upsertRelationship('room-1', 'c3', { $targetId: 'sensor-2', $relationshipName: 'contains' }),
  );
  const rels: string[] = [];
  for await (const r of client.listRelationships('room-1'))
    rels.push((r as { $relationshipId: string }).$relationshipId);
  out.relationships = rels.sort();
  const incoming: string[] = [];
  for await (const r of client.listIncomingRelationships('sensor-0')) incoming.push(r.sourceId ?? '?');
  out.incoming = incoming;

  const ids: string[] = [];
  let pages = 0;
  for await (const page of client
    .queryTwins("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:test:Sensor;1')", 10)
    .byPage()) {
    pages++;
    for (const t of page.value ?? []) ids.push((t as { $dtId: string }).$dtId);
  }
  out.queryCount = ids.length;
  out.queryPages = pages;

  await client.publishTelemetry('room-1', { humidity: 55 }, 'msg-1');
  await client
    .publishComponentTelemetry('room-1', 'thermostat', JSON.stringify({}), 'msg-2')
    .catch(() => undefined);
  // The SDK samples pass the payload as a JSON string: it arrives as a JSON string holding JSON.
  out.stringTelemetry = await status(
    client.publishTelemetry(
      'room-1',
      JSON.stringify({ humidity: 56 }) as unknown as Record<string, unknown>,
      'msg-4',
    ),
  );
  // ADT answers 204 to values outside the model (Twinloop keeps them as a dead letter).
  out.telemetryOutsideModel = await status(client.publishTelemetry('room-1', { humidity: 'wet' }, 'msg-3'));

  out.sourceTime = await status(
    client.updateDigitalTwin('room-1', [
      { op: 'replace', path: '/$metadata/temperature/sourceTime', value: '2024-05-01T12:00:00.1234567Z' },
    ]),
  );
  out.sourceTimeRead = (
    (await client.getDigitalTwin('room-1')).body as { $metadata: { temperature: { sourceTime?: string } } }
  ).$metadata.temperature.sourceTime;
  out.targetMissing = await code(
    client.upsertRelationship('room-1', 'cx', { $targetId: 'ghost', $relationshipName: 'contains' }),
  );
  await client.updateDigitalTwin('sensor-24', [
    { op: 'replace', path: '/$metadata/$model', value: 'dtmi:test:Space;1' },
    { op: 'remove', path: '/kind' },
    { op: 'add', path: '/area', value: 4 },
  ]);
  out.movedModel = (
    (await client.getDigitalTwin('sensor-24')).body as { $metadata: { $model: string } }
  ).$metadata.$model;

  out.deleteRelated = await status(client.deleteDigitalTwin('sensor-0'));
  await client.deleteRelationship('room-1', 'c1');
  out.deleteAfter = await status(client.deleteDigitalTwin('sensor-0'));
  out.getDeleted = await status(client.getDigitalTwin('sensor-0'));

  await client.decomissionModel('dtmi:test:Sensor;1');
  out.decommissioned = (await client.getModel('dtmi:test:Sensor;1')).decommissioned;
  out.twinOfDecommissioned = await status(
    client.upsertDigitalTwin('sensor-x', JSON.stringify({ $metadata: { $model: 'dtmi:test:Sensor;1' } })),
  );
  out.deleteUsedModel = await code(client.deleteModel('dtmi:test:Space;1'));
  // Sensor is only the target of Room's relationship: ADT lets it go.
  out.deleteTargetOnlyModel = await status(client.deleteModel('dtmi:test:Sensor;1'));
  await client.deleteModel('dtmi:test:Thermostat;1').catch(() => undefined);
  out.modelGoneAfterDelete = await status(
    client.deleteModel('dtmi:test:Room;1').then(() => client.getModel('dtmi:test:Room;1')),
  );
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(
    `scenario failed: ${String((e as Error).stack ?? e)}\nobserved so far: ${JSON.stringify(out)}\n`,
  );
  process.exit(1);
});
