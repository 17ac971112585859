/**
 * Our control extension (docs/api.md, "Commands and desired state"):
 * - POST /digitaltwins/{id}/commands/{command}: the body (JSON, optional) is the command's request
 *   payload, checked against the model; 202 with the request id once the broker has taken it.
 * - GET /digitaltwins/{id}/desired: the desired-state document devices receive on
 *   `twins/{id}/desired` (the twin's writable properties that are set).
 */
import type { FastifyInstance } from 'fastify';
import type { CommandReceipt } from '../../core/control/control-service.js';
import type { DesiredStateMessage } from '../../core/control/device-topics.js';

/** What the routes need of the ControlService. */
export interface HttpControlPort {
  sendCommand(twinId: string, command: string, request: unknown): Promise<CommandReceipt>;
  desiredState(twinId: string): DesiredStateMessage;
}

export function registerControlRoutes(app: FastifyInstance, control: HttpControlPort): void {
  app.post(
    '/digitaltwins/:id/commands/:command',
    {
      schema: {
        tags: ['Control (Twinloop)'],
        summary: "Sends a command to the twin's device (MQTT twins/{id}/commands/{command}, QoS 1).",
        description:
          "The body is the command's request payload (validated against the model's request schema); " +
          'omit it for a command without one. 202 means the broker took it: no device response is awaited yet.',
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, command: { type: 'string' } },
        },
        response: {
          202: {
            type: 'object',
            properties: {
              requestId: { type: 'string' },
              twinId: { type: 'string' },
              command: { type: 'string' },
              topic: { type: 'string' },
              sentAt: { type: 'string' },
              status: { type: 'string' },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const { id, command } = req.params as { id: string; command: string };
      const receipt = await control.sendCommand(id, command, req.body ?? undefined);
      return reply.code(202).send(receipt);
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
