/** The `device_credentials` row both SQL stores keep, and the record it gives (secrets only as digests). */
import { createHash } from 'node:crypto';
import type { DeviceCredential } from '../../core/ports/device-credential-store.js';

export interface CredentialRow {
  id: string;
  workspace: string;
  twin_id: string;
  label: string | null;
  created_at: number;
  digest: Buffer;
}

export function toCredential(r: CredentialRow): DeviceCredential {
  const c: DeviceCredential = {
    id: r.id,
    workspace: r.workspace,
    twinId: r.twin_id,
    createdAt: r.created_at,
  };
  if (r.label !== null) c.label = r.label;
  return c;
}

/** The stored form of a secret: its SHA-256 (the secret itself is never kept). */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
