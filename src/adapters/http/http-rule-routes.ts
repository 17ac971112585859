/**
 * Rules over HTTP (docs/rules.md), a Fastify plugin given to the server's `plugins`:
 * - GET /rules → { value: [latest version of each rule] };
 * - GET /rules/{id}[?version=N], GET /rules/{id}/versions;
 * - PUT /rules/{id} (JSON, or YAML as application/yaml, application/x-yaml or text/yaml) → 201 when
 *   created, 200 when updated or unchanged; `version` says which version it is;
 * - DELETE /rules/{id} → 204 (its versions are kept);
 * - POST /rules/{id}/backtest `{ twin | model, from?, to?, last? }` → 202 with the job;
 *   GET /rules/{id}/backtests/{jobId} → its status, progress and, when done, its result;
 *   POST /rules/{id}/backtests/{jobId}/cancel.
 * Twinloop extensions beside the ADT routes: no api-version needed.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { StoredRule } from '../../core/ports/rule-store.js';
import type { HistoryRawPage, HistoryRawQuery } from '../../core/ports/storage-ports.js';
import type { TwinContext } from '../../analytics/analytics-types.js';
import { runBacktest } from '../../analytics/rules/backtest.js';
import type { BacktestJobs } from '../../analytics/rules/backtest-jobs.js';
import { parseDuration } from '../../analytics/rules/rule-duration.js';
import type { RuleService } from '../../analytics/rules/rule-service.js';
import { mediaType } from './http-body-parser.js';

/** A time or a duration of the backtest body: a string (RFC 3339, `7d`) or a number (ms). */
const timeOrSpan = { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 64 }] }; // number first: coercion would turn a number into a string

export interface RuleRoutesOptions {
  rules: RuleService;
  backtests: BacktestJobs;
  history: { queryRaw(q: HistoryRawQuery): Promise<HistoryRawPage> };
  context: TwinContext;
  /** The twin's model id, undefined when there is no such twin. */
  modelOf(twinId: string): string | undefined;
  /** Twins of a model or of models extending it (IS_OF_MODEL); undefined for an unknown model. */
  twinsOfModel(modelId: string): { id: string; modelId: string }[] | undefined;
  /** Most twins one backtest runs over (default 1000). */
  maxBacktestTwins?: number;
}

const TAGS = ['Rules (Twinloop)'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
const idParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 128 } },
  required: ['id'],
} as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function view(r: StoredRule): Record<string, unknown> {
  return {
    id: r.id,
    version: r.version,
    createdAt: new Date(r.createdAt).toISOString(),
    definition: r.definition,
  };
}

function bodyText(req: FastifyRequest): { text: string; format: 'json' | 'yaml' } {
  const buf = req.rawBody;
  if (!buf || buf.length === 0)
    throw new TwinloopError('BadRequest', 'PUT /rules/{id} needs the rule document as its body.');
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw new TwinloopError('BadRequest', 'The request body is not valid UTF-8.');
  }
  return { text, format: YAML_TYPES.includes(mediaType(req.headers['content-type']).type) ? 'yaml' : 'json' };
}

/** A time: ms since epoch, or an RFC 3339 date. */
function time(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t))
    throw new TwinloopError('BadRequest', `${what} must be ms since epoch or an RFC 3339 date.`);
  return t;
}

export function ruleRoutesPlugin(options: RuleRoutesOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => registerRuleRoutes(app, options);
}

export function registerRuleRoutes(app: FastifyInstance, o: RuleRoutesOptions): void {
  const { rules } = o;
  app.get(
    '/rules',
    { schema: { tags: TAGS, summary: 'Lists the rules (latest version of each).' } },
    async () => ({
      value: (await rules.list()).map(view),
    }),
  );

  app.get(
    '/rules/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'A rule: its latest version, or ?version=N.',
        params: idParams,
        querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { version } = req.query as { version?: number };
      return view(await rules.get(id, version));
    },
  );

  app.get(
    '/rules/:id/versions',
    {
      schema: {
        tags: TAGS,
        summary: "Every version of a rule, oldest first (deleted rules' too).",
        params: idParams,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return { value: (await rules.versions(id)).map(view) };
    },
  );

  app.put(
    '/rules/:id',
    {
      bodyLimit: 256 * 1024,
      config: { bodyTypes: YAML_TYPES, rawBody: true },
      schema: {
        tags: TAGS,
        summary: 'Creates or changes a rule (JSON or YAML body); a changed definition is a new version.',
        params: idParams,
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const { rule, outcome } = await rules.put(id, bodyText(req));
      return reply.code(outcome === 'created' ? 201 : 200).send({ ...view(rule), outcome });
    },
  );

  app.delete(
    '/rules/:id',
    { schema: { tags: TAGS, summary: 'Deletes a rule (its versions are kept).', params: idParams } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await rules.delete(id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/rules/:id/backtest',
    {
      schema: {
        tags: TAGS,
        summary: 'Runs the rule over history as a job: when would it have fired?',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            twin: { type: 'string', maxLength: 1024 },
            model: { type: 'string', maxLength: 4096 },
            from: timeOrSpan,
            to: timeOrSpan,
            last: timeOrSpan,
            version: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = (req.body ?? {}) as Record<string, unknown>;
      const stored = await rules.get(id, typeof body.version === 'number' ? body.version : undefined);
      const rule = rules.compiled(stored);
      const twins = backtestTwins(o, body, rule.spec.appliesTo);
      const now = Date.now();
      const to = time(body.to, 'to') ?? now;
      const last = body.last === undefined ? undefined : parseDuration(body.last);
      if (body.last !== undefined && last === undefined)
        throw new TwinloopError('BadRequest', 'last must be a duration such as 7d, 12h or 30m.');
      const from = time(body.from, 'from') ?? to - (last ?? 7 * 86_400_000);
      if (!(from < to)) throw new TwinloopError('BadRequest', 'from must be before to.');
      const job = o.backtests.start(id, (onProgress, cancelled) =>
        runBacktest(
          rule,
          { workspace: rules.workspace, twins, from, to },
          { history: o.history, context: o.context, onProgress, cancelled },
        ),
      );
      return reply
        .code(202)
        .header('Location', `/rules/${encodeURIComponent(id)}/backtests/${job.id}`)
        .send(job);
    },
  );

  const jobParams = {
    type: 'object',
    properties: { id: { type: 'string' }, jobId: { type: 'string', maxLength: 64 } },
    required: ['id', 'jobId'],
  } as const;
  const findJob = (req: FastifyRequest) => {
    const { id, jobId } = req.params as { id: string; jobId: string };
    const job = o.backtests.get(jobId);
    if (!job || job.ruleId !== id)
      throw new TwinloopError('NotFound', `There is no backtest '${jobId}' of rule '${id}'.`);
    return job;
  };
  app.get(
    '/rules/:id/backtests/:jobId',
    { schema: { tags: TAGS, summary: 'A backtest: status, progress, result.', params: jobParams } },
    async (req) => findJob(req),
  );
  app.post(
    '/rules/:id/backtests/:jobId/cancel',
    { schema: { tags: TAGS, summary: 'Stops a running backtest.', params: jobParams } },
    async (req) => {
      const job = findJob(req);
      o.backtests.cancel(job.id);
      return o.backtests.get(job.id);
    },
  );
}

function backtestTwins(
  o: RuleRoutesOptions,
  body: Record<string, unknown>,
  appliesTo: { model?: string; twins?: readonly string[] },
) {
  const max = o.maxBacktestTwins ?? 1000;
  if (body.twin !== undefined && body.model !== undefined)
    throw new TwinloopError('BadRequest', 'Give twin or model, not both.');
  let twins: { id: string; modelId: string }[];
  if (typeof body.twin === 'string') {
    const modelId = o.modelOf(body.twin);
    if (modelId === undefined)
      throw new TwinloopError(
        'DigitalTwinNotFound',
        `There is no digital twin with id '${body.twin.slice(0, 128)}'.`,
      );
    twins = [{ id: body.twin, modelId }];
  } else {
    const model = typeof body.model === 'string' ? body.model : appliesTo.model;
    if (model !== undefined) {
      const found = o.twinsOfModel(model);
      if (!found)
        throw new TwinloopError('ModelNotFound', `There is no model with id '${model.slice(0, 128)}'.`);
      twins = found;
    } else {
      twins = (appliesTo.twins ?? []).flatMap((id) => {
        const modelId = o.modelOf(id);
        return modelId === undefined ? [] : [{ id, modelId }];
      });
    }
  }
  if (appliesTo.twins) {
    const allowed = new Set(appliesTo.twins);
    twins = twins.filter((t) => allowed.has(t.id));
  }
  if (twins.length > max)
    throw new TwinloopError(
      'BadRequest',
      `The backtest would run over ${twins.length} twins; at most ${max} at once (name one twin, or a narrower model).`,
    );
  return twins;
}
