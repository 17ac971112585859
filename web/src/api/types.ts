/**
 * The HTTP and WebSocket contract as the web app reads it: types shared with the server where the
 * server has them (core's live events, problems and alarm states; the home page's facts), and the
 * JSON shapes of routes whose server code builds plain objects (docs/api.md), written once here.
 */
export type { LiveEvent } from '../../../src/core/live/live-events.js';
export type { Problem } from '../../../src/core/errors/errors.js';
export type { AlarmSeverityName, AlarmState } from '../../../src/core/alarms/alarm.js';
export type {
  SceneBinding,
  SceneColourScale,
  ScenePartBinding,
} from '../../../src/core/scenes/scene-binding.js';
import type { SceneBinding } from '../../../src/core/scenes/scene-binding.js';
import type { AlarmSeverityName, AlarmState } from '../../../src/core/alarms/alarm.js';
import type { Problem } from '../../../src/core/errors/errors.js';
export type { WhatIfJob, TwinTrajectory } from '../../../src/sim/whatif/what-if-types.js';
export type { WhatIfAnswer, LimitCheck } from '../../../src/sim/whatif/what-if-answer.js';
export type { ReingestResult } from '../../../src/core/telemetry/dead-letter-reingest.js';
import type { WhatIfJob } from '../../../src/sim/whatif/what-if-types.js';

/** GET / with Accept: application/json (homeJson in src/adapters/http/http-home-routes.ts). */
export interface HomeJson {
  pilot: string;
  twins: number;
  models: number;
  mqttUrl: string;
  simulator?: { assets: number; speed: number };
  shadow: boolean;
  auth: boolean;
  exampleTwin?: string;
  exampleTelemetry?: string;
  name: string;
  liveUrl: string;
  links: Record<string, string>;
  /** Commands to paste (the MQTT port actually bound). */
  commands: string[];
}

/** GET /digitaltwins/{id}/series. */
export interface SeriesList {
  twinId: string;
  value: { path: string; kind: 'telemetry' | 'property'; lastTime: string; lastValue: unknown }[];
}

/** GET /healthz. */
export interface Health {
  status: string;
  uptimeSeconds: number;
  workspace: string;
  models: number;
  twins: number;
  relationships: number;
  analytics?: string;
}

/** GET /ingest/stats. */
export interface IngestStatsJson {
  time: string;
  uptimeSeconds: number;
  acceptedMessages: number;
  acceptedReadings: number;
  acceptedReadingSets: number;
  derivedReadings: number;
  deadLetters: number;
  deadLettersByCode: Record<string, number>;
  storageFailures: number;
}

/** GET /simulator. */
export interface SimulatorStatus {
  running: boolean;
  pilot?: string;
  speed?: number;
  fleets?: unknown;
  stats?: { assets?: number; published?: number; [k: string]: unknown };
  /** Simulated twins taken offline by hand (`twinloop fault <twin> offline`). */
  offline?: string[];
}

/** An alarm as GET /alarms answers it (alarmToJson). */
export interface AlarmJson {
  id: string;
  twinId: string;
  ruleId: string;
  ruleVersion: number;
  severity: AlarmSeverityName;
  message: string;
  state: AlarmState;
  value?: unknown;
  firstTime: string;
  lastTime: string;
  count: number;
  acknowledged?: { by: string; comment?: string; time: string };
  cleared?: { by: string; reason?: string; time: string };
}

/** A page of a list route. */
export interface Page<T> {
  value: T[];
  nextLink?: string;
  total?: number;
}

/** POST /query. */
export interface QueryPage {
  value: Record<string, unknown>[];
  continuationToken: string | null;
}

/** An ADT twin (GET /digitaltwins/{id}). */
export interface TwinJson {
  $dtId: string;
  $etag?: string;
  $metadata: {
    $model: string;
    $lastUpdateTime?: string;
    [property: string]: unknown;
  };
  [property: string]: unknown;
}

/** GET /digitaltwins/{id}/relationships. */
export interface RelationshipJson {
  $relationshipId: string;
  $sourceId: string;
  $targetId: string;
  $relationshipName: string;
  [property: string]: unknown;
}

/** GET /digitaltwins/{id}/incomingrelationships. */
export interface IncomingRelationshipJson {
  $relationshipId: string;
  $sourceId: string;
  $relationshipName: string;
}

/** GET /digitaltwins/{id}/desired. */
export interface DesiredJson {
  desired: Record<string, unknown>;
  $etag?: string;
  $lastUpdateTime?: string;
}

/** One bucket of GET /digitaltwins/{id}/history?interval=. */
export interface HistoryBucket {
  time: string;
  start: number;
  count: number;
  avg?: number;
  min?: number;
  max?: number;
  /** The bucket's last value (`fn=last`), of any type. */
  last?: unknown;
}

/** GET /digitaltwins/{id}/history (aggregated). */
export interface HistoryAggregate {
  twinId: string;
  path: string;
  from: string;
  to: string;
  interval: number;
  value: HistoryBucket[];
}

/** An error answer: `{ error: { code, message, details? } }` (docs/errors.md). */
export interface ErrorJson {
  error: { code: string; message: string; details?: Problem[]; innererror?: { code?: string } };
}

/** GET /digitaltwins/{id}/forecast: an ETS forecast of one numeric series, with 80 % and 95 % intervals. */
export interface ForecastJson {
  twinId: string;
  path: string;
  step: number;
  history: { from: string; to: string; buckets: number };
  points: {
    time: string;
    value: number;
    lower80: number;
    upper80: number;
    lower95: number;
    upper95: number;
  }[];
}

/** A dead letter as GET /deadletters answers it (deadLetterJson in src/adapters/http/http-ops-routes.ts). */
export interface DeadLetterJson {
  id: number;
  time: string;
  source: string;
  topic?: string;
  clientId?: string;
  twinId?: string;
  code: string;
  reason: string;
  problems: Problem[];
  /** Bytes of the payload kept. */
  payloadBytes: number;
  /** Only the head was kept: the payload had `receivedBytes` bytes. */
  payloadTruncated?: boolean;
  receivedBytes?: number;
  payloadEncoding: 'utf8' | 'base64';
  payload: string;
}

/** A model as GET /models answers it. */
export interface ModelJson {
  id: string;
  displayName: Record<string, string>;
  description: Record<string, string>;
  uploadTime: string;
  decommissioned: boolean;
  model?: DtdlInterface;
}

/** The parts of a DTDL interface the models page reads. */
export interface DtdlInterface {
  '@id'?: string;
  '@type'?: string | string[];
  extends?: string | string[] | Record<string, unknown> | Record<string, unknown>[];
  contents?: { '@type'?: string | string[]; name?: string; schema?: unknown }[];
  [k: string]: unknown;
}

/** A what-if job with its links (GET /simulations). */
export type WhatIfJobJson = WhatIfJob & { links?: Record<string, string> };
/** GET /scenes (http-scene-routes.ts). */
export interface SceneSummary {
  id: string;
  title: string;
  version: number;
  parts: number;
  model: string;
}

/** GET /scenes/{id} and PUT /scenes/{id}/binding. */
export interface SceneJson {
  id: string;
  title: string;
  version: number;
  updatedAt?: string;
  /** The model file's URL (GLB). */
  model: string;
  /** The model's part (node) names. */
  parts: string[];
  binding: SceneBinding;
  outcome?: 'created' | 'updated' | 'unchanged';
}
