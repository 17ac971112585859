/** A command as the API, the live stream and event routes show it (times in ISO 8601). */
import type { CommandRecord } from '../ports/command-store.js';

export function commandToJson(c: CommandRecord): Record<string, unknown> {
  const json: Record<string, unknown> = {
    requestId: c.requestId,
    twinId: c.twinId,
    command: c.command,
  };
  if (c.request !== undefined) json.request = c.request;
  json.state = c.state;
  json.createdAt = iso(c.createdAt);
  json.expiresAt = iso(c.expiresAt);
  json.steps = c.steps.map((s) => ({ state: s.state, at: iso(s.at) }));
  if (c.status !== undefined) json.status = c.status;
  if (c.response !== undefined) json.response = c.response;
  if (c.reason !== undefined) json.reason = c.reason;
  if (c.requestedBy !== undefined) json.requestedBy = c.requestedBy;
  return json;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
