/**
 * Device credentials over HTTP (docs/api.md, "Device credentials"), a Fastify plugin given to the
 * server's `plugins` (it inherits the server's authentication):
 * - POST /devices/{twinId}/credentials → 201 with the token, shown this once (body: `{"label"?}`);
 * - GET /devices/{twinId}/credentials → { value: [...] } without tokens;
 * - DELETE /devices/{twinId}/credentials/{id} → 204; a device connected with it is disconnected.
 * The twin must exist. Twinloop extensions beside the ADT routes: no api-version needed.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { DeviceCredential, DeviceCredentialStore } from '../../core/ports/device-credential-store.js';

export interface DeviceRoutesOptions {
  workspace: string;
  credentials: DeviceCredentialStore;
  /** Whether the twin exists (credentials are issued to existing twins only). */
  twinExists(twinId: string): boolean;
  /** Told after a revoke, to disconnect MQTT sessions opened with the credential. */
  onRevoked?(credentialId: string): void;
}

const TAGS = ['Devices (Twinloop)'];
/** Credentials one twin may hold at once: enough to rotate, a bound on what one client can store. */
export const MAX_CREDENTIALS_PER_TWIN = 20;
const twinParams = { type: 'object', properties: { twinId: { type: 'string' } } } as const;
const credentialJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    twinId: { type: 'string' },
    label: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

function view(c: DeviceCredential): Record<string, unknown> {
  return {
    id: c.id,
    twinId: c.twinId,
    ...(c.label !== undefined ? { label: c.label } : {}),
    createdAt: new Date(c.createdAt).toISOString(),
  };
}

export function deviceRoutesPlugin(options: DeviceRoutesOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => registerDeviceRoutes(app, options);
}

function existing(options: DeviceRoutesOptions, twinId: string): void {
  if (!options.twinExists(twinId))
    throw new TwinloopError('DigitalTwinNotFound', `There is no digital twin with id '${twinId}'.`);
}

export function registerDeviceRoutes(app: FastifyInstance, options: DeviceRoutesOptions): void {
  const { workspace, credentials } = options;
  app.post(
    '/devices/:twinId/credentials',
    {
      schema: {
        tags: TAGS,
        summary:
          "Creates a device credential for the twin: an MQTT password valid for that twin's device only.",
        description:
          'The token is in this answer only (it is stored hashed). The device connects with client id = twin id, ' +
          'password = token; it may publish only its twin telemetry and subscribe only to its commands and desired state.',
        params: twinParams,
        body: {
          type: ['object', 'null'],
          properties: { label: { type: 'string', maxLength: 200 } },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              ...credentialJson.properties,
              token: { type: 'string' },
              mqtt: {
                type: 'object',
                properties: {
                  clientId: { type: 'string' },
                  username: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const { twinId } = req.params as { twinId: string };
      existing(options, twinId);
      const body = (req.body ?? {}) as { label?: string };
      // Checked here: the server's schema validator drops unknown members silently.
      const unknown = Object.keys(body).filter((k) => k !== 'label');
      if (unknown.length)
        throw new TwinloopError(
          'BadRequest',
          `Unknown member(s) ${unknown.join(', ')}: only "label" is allowed.`,
        );
      if ((await credentials.list(workspace, twinId)).length >= MAX_CREDENTIALS_PER_TWIN)
        throw new TwinloopError(
          'Conflict',
          `Twin '${twinId}' already has ${MAX_CREDENTIALS_PER_TWIN} device credentials, the most one twin may hold: revoke one first (DELETE /devices/${twinId}/credentials/{id}).`,
        );
      const label = body.label;
      const issued = await credentials.create({
        workspace,
        twinId,
        ...(label !== undefined ? { label } : {}),
      });
      return reply.code(201).send({
        ...view(issued.credential),
        token: issued.token,
        mqtt: { clientId: twinId, username: twinId, password: issued.token },
      });
    },
  );

  app.get(
    '/devices/:twinId/credentials',
    {
      schema: {
        tags: TAGS,
        summary: "The twin's device credentials (never their tokens), oldest first.",
        params: twinParams,
        response: {
          200: { type: 'object', properties: { value: { type: 'array', items: credentialJson } } },
        },
      },
    },
    async (req) => {
      const { twinId } = req.params as { twinId: string };
      existing(options, twinId);
      return { value: (await credentials.list(workspace, twinId)).map(view) };
    },
  );

  app.delete(
    '/devices/:twinId/credentials/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Revokes a device credential; a device connected with it is disconnected.',
        params: { type: 'object', properties: { twinId: { type: 'string' }, id: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const { twinId, id } = req.params as { twinId: string; id: string };
      const owned = (await credentials.list(workspace, twinId)).some((c) => c.id === id);
      if (!owned || !(await credentials.revoke(workspace, id))) {
        throw new TwinloopError('NotFound', `Twin '${twinId}' has no device credential '${id}'.`);
      }
      options.onRevoked?.(id);
      return reply.code(204).send();
    },
  );
}
