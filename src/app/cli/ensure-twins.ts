/**
 * Creates, through the HTTP API, the pilot twins and relationships a running Twinloop does not have
 * yet (`twinloop simulate --assets N` sizes a fleet beyond what the server was seeded with). Existing
 * ones are left as they are (If-None-Match: *).
 */
import type { PilotFiles } from '../pilot-files.js';
import { ApiError, type ApiClient } from './api-client.js';

export async function ensurePilotTwins(
  api: ApiClient,
  files: Pick<PilotFiles, 'twins' | 'relationships'>,
): Promise<{ twins: number; relationships: number }> {
  const made = { twins: 0, relationships: 0 };
  const put = async (p: string, body: unknown): Promise<boolean> => {
    try {
      await api.request('PUT', p, { body, headers: { 'if-none-match': '*' } });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) return false; // already there
      throw e;
    }
  };
  for (const t of files.twins) {
    const { $dtId, ...body } = t;
    if (await put(`/digitaltwins/${encodeURIComponent(String($dtId))}`, body)) made.twins++;
  }
  for (const r of files.relationships) {
    const { $sourceId, $relationshipId, ...body } = r;
    const p = `/digitaltwins/${encodeURIComponent(String($sourceId))}/relationships/${encodeURIComponent(String($relationshipId))}`;
    if (await put(p, body)) made.relationships++;
  }
  return made;
}
