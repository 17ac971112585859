/**
 * Test and benchmark support (not used by the running platform): a real ingest stack — the DTDL
 * parser's pump model, an in-memory twin graph with N pumps, SQLite history and dead-letter stores in
 * a data folder, or any other stores such as PostgreSQL's — so MQTT integration tests and
 * bench/ingest and bench/cluster run against the real parts.
 */
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../../core/graph/graph-types.js';
import { LiveEventBus } from '../../core/live/live-events.js';
import { parseDtdl, isValidResult } from '../../core/models/dtdl/parse-dtdl.js';
import type { InterfaceInfo, ModelLookup } from '../../core/models/model-types.js';
import type { DeadLetterStore, HistoryStore } from '../../core/ports/storage-ports.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import type { IngestServiceOptions } from '../../core/telemetry/ingest-service.js';
import { openSqliteDatabase } from '../sqlite/sqlite-database.js';
import type { SqliteDatabase, SqliteSynchronous } from '../sqlite/sqlite-database.js';
import { SqliteDeadLetterStore } from '../sqlite/sqlite-dead-letter-store.js';
import { SqliteHistoryStore } from '../sqlite/sqlite-history-store.js';
import type { SqliteHistoryStoreOptions } from '../sqlite/sqlite-history-store.js';

export const PUMP_MODEL_ID = 'dtmi:twinloop:test:Pump;1';
export const MOTOR_MODEL_ID = 'dtmi:twinloop:test:Motor;1';

export const PUMP_MODELS = [
  {
    '@context': ['dtmi:dtdl:context;3', 'dtmi:dtdl:extension:quantitativeTypes;1'],
    '@id': PUMP_MODEL_ID,
    '@type': 'Interface',
    contents: [
      { '@type': ['Telemetry', 'Temperature'], name: 'temperature', schema: 'double', unit: 'degreeCelsius' },
      { '@type': 'Telemetry', name: 'vibration', schema: 'double' },
      { '@type': 'Telemetry', name: 'pressure', schema: 'double' },
      { '@type': 'Telemetry', name: 'flow', schema: 'double' },
      { '@type': 'Telemetry', name: 'rpm', schema: 'integer' },
      { '@type': 'Property', name: 'serial', schema: 'string' },
      { '@type': 'Component', name: 'motor', schema: MOTOR_MODEL_ID },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': MOTOR_MODEL_ID,
    '@type': 'Interface',
    contents: [{ '@type': 'Telemetry', name: 'current', schema: 'double' }],
  },
];

/** A ModelLookup over the parser's output (the model registry does this in the platform). */
export function pumpModels(): ModelLookup {
  const r = parseDtdl(PUMP_MODELS.map((json, i) => ({ source: `model ${i}`, json })));
  if (!isValidResult(r)) throw new Error(`test models do not parse: ${JSON.stringify(r.problems)}`);
  const map: Map<string, InterfaceInfo> = r.interfaces;
  return {
    getInterface: (id) => map.get(id),
    isOfModel: (modelId, baseId) =>
      modelId === baseId || (map.get(modelId)?.ancestors.includes(baseId) ?? false),
  };
}

export function pumpTwin(id: string, workspace = 'default'): TwinRecord {
  return {
    id,
    modelId: PUMP_MODEL_ID,
    workspace,
    etag: 'W/"1"',
    lastUpdateTime: 0,
    contents: {},
    propertyTimes: {},
    telemetry: {},
  };
}

/** The stores an ingest stack writes to: a `Storage` (SQLite or PostgreSQL) has them. */
export interface IngestStores<
  H extends HistoryStore = HistoryStore,
  D extends DeadLetterStore = DeadLetterStore,
> {
  history: H;
  deadLetters: D;
  /** Commits what is pending and closes the stores. */
  close(): Promise<void>;
}

export interface IngestStackOn<
  H extends HistoryStore = HistoryStore,
  D extends DeadLetterStore = DeadLetterStore,
> {
  service: IngestService;
  graph: InMemoryTwinGraph;
  history: H;
  deadLetters: D;
  live: LiveEventBus;
  close(): Promise<void>;
}

/**
 * The ingest stack over given stores (e.g. `await openPgStorage(...)`), with twins pump-1 ..
 * pump-{twins} in workspace "default"; close() closes the stores.
 */
export function createIngestStackOn<H extends HistoryStore, D extends DeadLetterStore>(
  stores: IngestStores<H, D>,
  options: { twins: number; service?: Partial<IngestServiceOptions> },
): IngestStackOn<H, D> {
  const graph = new InMemoryTwinGraph();
  for (let i = 1; i <= options.twins; i++) graph.putTwin(pumpTwin(`pump-${i}`));
  const models = pumpModels();
  const live = new LiveEventBus();
  const service = new IngestService({
    workspace: (ws) => (ws === 'default' ? { graph, models } : undefined),
    history: stores.history,
    deadLetters: stores.deadLetters,
    live,
    ...options.service,
  });
  return {
    service,
    graph,
    history: stores.history,
    deadLetters: stores.deadLetters,
    live,
    close: () => stores.close(),
  };
}

export interface IngestStack extends IngestStackOn<SqliteHistoryStore, SqliteDeadLetterStore> {
  database: SqliteDatabase;
}

/** Builds the stack over SQLite in a data folder with twins pump-1 .. pump-{twins} in workspace "default". */
export function createIngestStack(options: {
  dataDir: string;
  twins: number;
  synchronous?: SqliteSynchronous;
  service?: Partial<IngestServiceOptions>;
  history?: SqliteHistoryStoreOptions;
}): IngestStack {
  const database = openSqliteDatabase({
    dataDir: options.dataDir,
    synchronous: options.synchronous ?? 'FULL',
  });
  const history = new SqliteHistoryStore(database.db, options.history);
  const deadLetters = new SqliteDeadLetterStore(database.db);
  const stack = createIngestStackOn(
    {
      history,
      deadLetters,
      async close() {
        await history.close();
        database.close();
      },
    },
    { twins: options.twins, ...(options.service ? { service: options.service } : {}) },
  );
  return { ...stack, database };
}
