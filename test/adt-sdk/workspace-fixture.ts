/**
 * Test support (not a test): a workspace built from the real parts — the DTDL registry, the
 * in-memory graph and the SQLite stores in a temporary folder — with a small building model.
 * Used by the twin/model service tests and the HTTP and SDK integration tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage, type SqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { InMemoryTwinGraph } from '../../src/core/graph/in-memory-twin-graph.js';
import { LiveEventBus, type LiveEvent } from '../../src/core/live/live-events.js';
import { ModelRegistry } from '../../src/core/models/model-registry.js';
import { ModelService } from '../../src/core/models/model-service.js';
import { TwinService } from '../../src/core/twins/twin-service.js';

const ctx = 'dtmi:dtdl:context;3';

export const MODELS = {
  space: {
    '@id': 'dtmi:test:Space;1',
    '@type': 'Interface',
    '@context': ctx,
    displayName: 'Space',
    contents: [
      { '@type': 'Property', name: 'area', schema: 'double' },
      { '@type': 'Relationship', name: 'adjacentTo' },
    ],
  },
  thermostat: {
    '@id': 'dtmi:test:Thermostat;1',
    '@type': 'Interface',
    '@context': ctx,
    contents: [
      { '@type': 'Property', name: 'setPoint', schema: 'double' },
      { '@type': 'Property', name: 'mode', schema: 'string' },
    ],
  },
  sensor: {
    '@id': 'dtmi:test:Sensor;1',
    '@type': 'Interface',
    '@context': ctx,
    contents: [{ '@type': 'Property', name: 'kind', schema: 'string' }],
  },
  room: {
    '@id': 'dtmi:test:Room;1',
    '@type': 'Interface',
    '@context': ctx,
    extends: 'dtmi:test:Space;1',
    displayName: { en: 'Room', de: 'Raum' },
    contents: [
      { '@type': 'Property', name: 'temperature', schema: 'double' },
      { '@type': 'Property', name: 'name', schema: 'string' },
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
      { '@type': 'Telemetry', name: 'humidity', schema: 'double' },
      { '@type': 'Component', name: 'thermostat', schema: 'dtmi:test:Thermostat;1' },
      {
        '@type': 'Relationship',
        name: 'contains',
        target: 'dtmi:test:Sensor;1',
        maxMultiplicity: 2,
        properties: [{ '@type': 'Property', name: 'since', schema: 'string' }],
      },
    ],
  },
} as const;

export const ALL_MODELS = [MODELS.space, MODELS.thermostat, MODELS.sensor, MODELS.room];

export interface TestWorkspace {
  dir: string;
  storage: SqliteStorage;
  registry: ModelRegistry;
  models: ModelService;
  graph: InMemoryTwinGraph;
  twins: TwinService;
  live: LiveEventBus;
  events: LiveEvent[];
  close(): Promise<void>;
}

export async function openTestWorkspace(
  options: { dir?: string; now?: () => number } = {},
): Promise<TestWorkspace> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'twinloop-twins-'));
  const storage = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  const registry = new ModelRegistry();
  const models = new ModelService({
    workspace: 'default',
    registry,
    store: storage.models,
    ...(options.now ? { now: options.now } : {}),
  });
  await models.load();
  const graph = new InMemoryTwinGraph({ hierarchy: registry });
  for await (const t of storage.twins.loadTwins('default')) graph.putTwin(t);
  for await (const r of storage.twins.loadRelationships('default')) graph.putRelationship(r);
  const live = new LiveEventBus();
  const events: LiveEvent[] = [];
  live.subscribe((evs) => events.push(...evs));
  const twins = new TwinService({
    workspace: 'default',
    models,
    graph,
    store: storage.twins,
    history: storage.history,
    live,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    dir,
    storage,
    registry,
    models,
    graph,
    twins,
    live,
    events,
    async close() {
      await storage.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
