/**
 * Control routes (docs/control.md, docs/api.md "Control"):
 * - POST /digitaltwins/{id}/commands/{command}[?expirySeconds=N]: the body (JSON, optional) is the
 *   command's request payload, checked against the model; 202 with the command as stored (queued,
 *   or sent when its device could take it at once).
 * - GET /digitaltwins/{id}/commands: the twin's commands, newest first (?state=…&limit=&before=).
 * - GET /digitaltwins/{id}/commands/{requestId}[?afterSteps=N&waitSeconds=S]: one command with the
 *   time of each step; with waitSeconds, a long poll until it has more than N steps or finishes.
 * - DELETE /digitaltwins/{id}/commands/{requestId}: cancels a queued command (409 once sent).
 * - GET /digitaltwins/{id}/desired: the desired-state document devices receive on `twins/{id}/desired`.
 */
import type { FastifyInstance } from 'fastify';
import type { CommandService } from '../../core/control/command-service.js';
import { commandToJson } from '../../core/control/command-service.js';
import type { DesiredStateMessage } from '../../core/control/device-topics.js';
import { TwinloopError } from '../../core/errors/errors.js';
import { COMMAND_STATES, type CommandState } from '../../core/ports/command-store.js';

/** What the routes need of control. */
export interface HttpControlPort {
  commands: Pick<CommandService, 'invoke' | 'get' | 'list' | 'cancel' | 'waitForStep'>;
  desiredState(twinId: string): DesiredStateMessage;
}

const STATES = COMMAND_STATES;
/** The longest a long poll may wait, seconds. */
const MAX_WAIT_SECONDS = 60;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string' }, requestId: { type: 'string', maxLength: 64 } },
} as const;

export function registerControlRoutes(app: FastifyInstance, control: HttpControlPort): void {
  const { commands } = control;
  app.post(
    '/digitaltwins/:id/commands/:command',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: "Sends a command to the twin's device: stored, then sent when the device can take it.",
        description:
          "The body is the command's request payload (validated against the model's request schema); " +
          'omit it for a command without one. 202 with the command as stored: `queued` (its device is ' +
          'offline, or earlier commands go first) or `sent`. Follow it with GET …/commands/{requestId}.',
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, command: { type: 'string' } },
        },
        querystring: {
          type: 'object',
          properties: { expirySeconds: { type: 'number', exclusiveMinimum: 0 } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const { id, command } = req.params as { id: string; command: string };
      const { expirySeconds } = req.query as { expirySeconds?: number };
      const c = await commands.invoke(id, command, req.body ?? undefined, {
        ...(expirySeconds !== undefined ? { expirySeconds } : {}),
        requestedBy: 'api',
      });
      return reply.code(202).header('location', commandLocation(id, c.requestId)).send(commandToJson(c));
    },
  );

  app.get(
    '/digitaltwins/:id/commands',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: "The twin's commands, newest first.",
        params: { type: 'object', properties: { id: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            before: { type: 'integer', minimum: 1 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { state?: string; limit: number; before?: number };
      const states = q.state === undefined ? undefined : parseStates(q.state);
      const list = await commands.list(id, {
        limit: q.limit,
        ...(states ? { states } : {}),
        ...(q.before !== undefined ? { beforeSeq: q.before } : {}),
      });
      const last = list.at(-1);
      return {
        value: list.map(commandToJson),
        ...(list.length === q.limit && last ? { nextBefore: last.seq } : {}),
      };
    },
  );

  app.get(
    '/digitaltwins/:id/commands/:requestId',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: 'One command with the time of each step; optionally waits for its next step.',
        description:
          'With waitSeconds (at most 60), answers once the command has more than afterSteps steps, ' +
          'is finished, or the time is up: a long poll for following a command.',
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            afterSteps: { type: 'integer', minimum: 0, maximum: 100, default: 0 },
            waitSeconds: { type: 'number', minimum: 0, maximum: MAX_WAIT_SECONDS, default: 0 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { id, requestId } = req.params as { id: string; requestId: string };
      const q = req.query as { afterSteps: number; waitSeconds: number };
      const c =
        q.waitSeconds > 0
          ? await commands.waitForStep(id, requestId, q.afterSteps, q.waitSeconds * 1000)
          : await commands.get(id, requestId);
      return commandToJson(c);
    },
  );

  app.delete(
    '/digitaltwins/:id/commands/:requestId',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: 'Cancels a queued command (409 Conflict once it is sent).',
        params: idParams,
      },
    },
    async (req) => {
      const { id, requestId } = req.params as { id: string; requestId: string };
      return commandToJson(await commands.cancel(id, requestId, 'api'));
    },
  );

  app.get(
    '/digitaltwins/:id/desired',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: "The twin's desired state, as its device receives it on twins/{id}/desired (retained).",
        params: { type: 'object', properties: { id: { type: 'string' } } },
      },
    },
    async (req) => control.desiredState((req.params as { id: string }).id),
  );
}

function commandLocation(twinId: string, requestId: string): string {
  return `/digitaltwins/${encodeURIComponent(twinId)}/commands/${encodeURIComponent(requestId)}`;
}

function parseStates(s: string): CommandState[] {
  const states = s.split(',').map((x) => x.trim());
  const bad = states.filter((x) => !(STATES as readonly string[]).includes(x));
  if (bad.length)
    throw new TwinloopError(
      'BadRequest',
      `Unknown command state ${bad.map((b) => `'${b.slice(0, 40)}'`).join(', ')}: use ${STATES.join(', ')}.`,
    );
  return states as CommandState[];
}
