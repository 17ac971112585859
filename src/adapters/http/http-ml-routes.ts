/**
 * The ML model registry over HTTP (docs/ml-models.md), a Fastify plugin given to the server's
 * `plugins`. Twinloop extensions beside the ADT routes (no api-version needed):
 * - GET /ml/models?kind=&target=&status=&limit=&continuationToken= → `{ value, nextLink? }`, newest
 *   first, without artefacts;
 * - GET /ml/models/{id}[?artefact=true] → the model (the artefact, a JSON object, only when asked);
 * - GET /ml/models/{id}/compare/{otherId} → metrics side by side, feature and range differences;
 * - POST /ml/models/{id}/promote, body `{"reason"?}` → `{ model, previous?, changed, activation? }`;
 * - POST /ml/rollback, body `{"kind"?: "rul", "target": dtmi, "reason"?}` → the same shape;
 * - DELETE /ml/models/{id} → 204 (409 Conflict for the active model);
 * - GET /ml/activations?kind=&target=&limit= → the activation log, newest first.
 * Who acts: the `Twinloop-User` header (as for alarms), else "anonymous". Models are added by
 * training, not over HTTP.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import {
  MAX_ML_PAGE,
  type MlActivation,
  type MlActivationResult,
  type MlModelKind,
  type MlModelRecord,
  type MlModelStatus,
} from '../../core/ports/ml-model-store.js';
import type { MlModelRegistry } from '../../analytics/ml/ml-model-registry.js';
import { MAX_ML_ID, MAX_ML_NOTE } from '../../analytics/ml/ml-model-registry.js';
import { actingUser } from './http-alarm-routes.js';
import { nextLink } from './http-adt-common.js';

const TAGS = ['ML models (Twinloop)'];
/** Largest body of promote and rollback (a reason and a target). */
export const MAX_ML_BODY = 16 * 1024;
const DEFAULT_PAGE = 100;
const idSchema = { type: 'string', minLength: 1, maxLength: MAX_ML_ID } as const;
const idParams = { type: 'object', properties: { id: idSchema }, required: ['id'] } as const;

/** A model as JSON: times as RFC 3339, no store-internal seq. */
export function mlModelJson(m: MlModelRecord): Record<string, unknown> {
  const { seq: _seq, artefact: _a, createdAt, activatedAt, trainingRange, ...rest } = m;
  return {
    ...rest,
    createdAt: new Date(createdAt).toISOString(),
    ...(activatedAt !== undefined ? { activatedAt: new Date(activatedAt).toISOString() } : {}),
    trainingRange: {
      ...trainingRange,
      from: isoOrNumber(trainingRange.from),
      to: isoOrNumber(trainingRange.to),
    },
  };
}

function isoOrNumber(ms: number): string | number {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : ms;
}

function activationJson(r: MlActivationResult): Record<string, unknown> {
  return {
    model: mlModelJson(r.model),
    ...(r.previous ? { previous: mlModelJson(r.previous) } : {}),
    changed: r.changed,
    ...(r.activation ? { activation: activationLine(r.activation) } : {}),
  };
}

function activationLine({ seq: _s, at, ...a }: MlActivation): Record<string, unknown> {
  return { ...a, at: new Date(at).toISOString() };
}

function problemsError(problems: Problem[], what: string): TwinloopError {
  return new TwinloopError(
    'InvalidArgument',
    `Invalid ${what}: ${problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join(' ')}`,
    { problems },
  );
}

/** One query parameter given at most once. */
function one(q: Record<string, unknown>, name: string, problems: Problem[]): string | undefined {
  if (!Object.hasOwn(q, name)) return undefined;
  const v = q[name];
  if (typeof v === 'string') return v;
  problems.push({
    code: 'ml.query',
    message: `'${name}' must be given once.`,
    pointer: `/${name}`,
    source: 'query string',
  });
  return undefined;
}

/**
 * The members of a POST body, only those allowed; every problem at once. @throws InvalidArgument
 */
function bodyOf(body: unknown, allowed: readonly string[]): Record<string, string> {
  const problems: Problem[] = [];
  const at = (pointer: string, message: string) =>
    problems.push({ code: 'ml.body', message, pointer, source: 'request body' });
  const out: Record<string, string> = {};
  if (body === undefined || body === null) return out;
  if (typeof body !== 'object' || Array.isArray(body)) at('', 'The body must be a JSON object.');
  else
    for (const [k, v] of Object.entries(body)) {
      const p = `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (!allowed.includes(k)) at(p, `Unknown member; allowed: ${allowed.join(', ')}.`);
      else if (typeof v !== 'string') at(p, 'must be a string.');
      else if (v.length > MAX_ML_NOTE)
        at(p, `is ${v.length} characters long; at most ${MAX_ML_NOTE} are allowed.`);
      else out[k] = v;
    }
  if (problems.length) throw problemsError(problems, 'body');
  return out;
}

function cursor(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  try {
    const p = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { s?: unknown };
    if (Number.isSafeInteger(p.s)) return p.s as number;
  } catch {
    // reported below
  }
  throw new TwinloopError(
    'InvalidContinuationToken',
    'The continuationToken of this list is not valid; start again from the first page.',
  );
}

/** kind, target (and status, limit, cursor) of a list, every problem at once. */
function listQuery(req: FastifyRequest, withStatus: boolean) {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const problems: Problem[] = [];
  const get = (n: string) => one(q, n, problems);
  const kind = get('kind') || undefined;
  const target = get('target') || undefined;
  const status = withStatus ? get('status') || undefined : undefined;
  const rawLimit = get('limit');
  let limit = DEFAULT_PAGE;
  if (rawLimit !== undefined) {
    if (/^\d{1,4}$/.test(rawLimit) && Number(rawLimit) >= 1 && Number(rawLimit) <= MAX_ML_PAGE)
      limit = Number(rawLimit);
    else
      problems.push({
        code: 'ml.query',
        message: `'limit' must be a whole number from 1 to ${MAX_ML_PAGE}.`,
        pointer: '/limit',
        source: 'query string',
      });
  }
  const token = get('continuationToken');
  if (problems.length) throw problemsError(problems, 'query');
  return {
    kind: kind as MlModelKind | undefined,
    target,
    status: status as MlModelStatus | undefined,
    limit,
    beforeSeq: cursor(token),
  };
}

function pageLink(req: FastifyRequest, seq: number): string {
  return nextLink(req, { continuationToken: Buffer.from(JSON.stringify({ s: seq })).toString('base64url') });
}

export function mlRoutesPlugin(registry: MlModelRegistry): FastifyPluginAsync {
  return async (app: FastifyInstance) => registerMlRoutes(app, registry);
}

export function registerMlRoutes(app: FastifyInstance, registry: MlModelRegistry): void {
  const listProps = { kind: {}, target: {}, status: {}, limit: {}, continuationToken: {} };
  app.get(
    '/ml/models',
    {
      schema: {
        tags: TAGS,
        summary: 'Lists trained models newest first (without artefacts), by kind, target (DTMI) and status.',
        // Untyped here: checked below, every problem at once.
        querystring: { type: 'object', properties: listProps },
      },
    },
    async (req) => {
      const q = listQuery(req, true);
      const rows = await registry.list({
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.target ? { target: q.target } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: Math.min(q.limit + 1, MAX_ML_PAGE),
        ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
      });
      const page = rows.slice(0, q.limit);
      const value = page.map(mlModelJson);
      const last = page[page.length - 1];
      // (a full page of the most asked for may have more behind it)
      const more = rows.length > q.limit || rows.length === MAX_ML_PAGE;
      return more && last ? { value, nextLink: pageLink(req, last.seq) } : { value };
    },
  );

  app.get(
    '/ml/models/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'A trained model; with ?artefact=true its artefact (the trained model’s JSON) too.',
        params: idParams,
        querystring: {
          type: 'object',
          properties: { artefact: { type: 'string', enum: ['true', 'false'] } },
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const withArtefact = (req.query as { artefact?: string }).artefact === 'true';
      const m = await registry.get(id, { artefact: withArtefact });
      if (!withArtefact) return mlModelJson(m);
      // The stored text is checked JSON: spliced in as it is (MBs are never parsed and re-written).
      const head = JSON.stringify(mlModelJson(m));
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .send(`${head.slice(0, -1)},"artefact":${m.artefact ?? 'null'}}`);
    },
  );

  app.get(
    '/ml/models/:id/compare/:otherId',
    {
      schema: {
        tags: TAGS,
        summary: 'Compares two models: metrics side by side, differences of features and training range.',
        params: {
          type: 'object',
          properties: { id: idSchema, otherId: idSchema },
          required: ['id', 'otherId'],
        },
      },
    },
    async (req) => {
      const { id, otherId } = req.params as { id: string; otherId: string };
      const c = await registry.compare(id, otherId);
      return { ...c, a: mlModelJson(c.a), b: mlModelJson(c.b) };
    },
  );

  app.post(
    '/ml/models/:id/promote',
    {
      bodyLimit: MAX_ML_BODY,
      schema: {
        tags: TAGS,
        summary: 'Makes a model its target’s active one (the previous one retired), with an optional reason.',
        params: idParams,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const by = actingUser(req);
      const { reason } = bodyOf(req.body, ['reason']);
      return activationJson(await registry.promote(id, { by, ...(reason !== undefined ? { reason } : {}) }));
    },
  );

  app.post(
    '/ml/rollback',
    {
      bodyLimit: MAX_ML_BODY,
      schema: {
        tags: TAGS,
        summary: 'Re-activates the model of a target that was active before the current one.',
      },
    },
    async (req) => {
      const by = actingUser(req);
      const b = bodyOf(req.body, ['kind', 'target', 'reason']);
      if (b.target === undefined)
        throw problemsError(
          [
            {
              code: 'ml.body',
              message: 'is required: the DTMI of the models’ interface.',
              pointer: '/target',
              source: 'request body',
            },
          ],
          'body',
        );
      return activationJson(
        await registry.rollback((b.kind ?? 'rul') as MlModelKind, b.target, {
          by,
          ...(b.reason !== undefined ? { reason: b.reason } : {}),
        }),
      );
    },
  );

  app.delete(
    '/ml/models/:id',
    { schema: { tags: TAGS, summary: 'Deletes a model that is not active.', params: idParams } },
    async (req, reply) => {
      await registry.delete((req.params as { id: string }).id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/ml/activations',
    {
      schema: {
        tags: TAGS,
        summary: 'The activation log (promotions and rollbacks), newest first.',
        querystring: { type: 'object', properties: listProps },
      },
    },
    async (req) => {
      const q = listQuery(req, false);
      const rows = await registry.activations({
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.target ? { target: q.target } : {}),
        limit: Math.min(q.limit + 1, MAX_ML_PAGE),
        ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
      });
      const page = rows.slice(0, q.limit);
      const value = page.map(activationLine);
      const last = page[page.length - 1];
      // (a full page of the most asked for may have more behind it)
      const more = rows.length > q.limit || rows.length === MAX_ML_PAGE;
      return more && last ? { value, nextLink: pageLink(req, last.seq) } : { value };
    },
  );
}
