/**
 * Device credentials: a token scoped to one twin, so a device is its own principal on MQTT (it may
 * publish only its twin's telemetry and read only its twin's commands and desired state; see
 * docs/mqtt.md "Devices as principals"). The token is shown once when created; the store keeps only
 * its SHA-256 digest (the token is 32 random bytes: a fast hash is enough for high-entropy secrets).
 */

import { TwinloopError } from '../errors/errors.js';

/** A credential as listed: never the token. */
export interface DeviceCredential {
  /** Public id (`dc_` + 16 hex digits): names the credential in lists, logs and revoke calls. */
  id: string;
  workspace: string;
  twinId: string;
  /** Free text given at creation ("gateway 3", "bench unit"). */
  label?: string;
  /** ms since epoch. */
  createdAt: number;
}

/** What create returns: the credential and its token, which is never available again. */
export interface IssuedDeviceCredential {
  credential: DeviceCredential;
  /** `tldc_{id}_{secret}`: present it as the MQTT password. */
  token: string;
}

/**
 * A credential with the digest of its secret, to move it to another store (`twinloop migrate-store`):
 * the token the device holds keeps working because the digest is copied, never recomputed.
 */
export interface DeviceCredentialRecord extends DeviceCredential {
  /** SHA-256 of the token's secret, 32 bytes. */
  digest: Buffer;
}

/** Every method is asynchronous (a store may be remote); failures reject with StorageError. */
export interface DeviceCredentialStore {
  /** Creates a credential for the twin with a fresh random token. @throws StorageError */
  create(input: { workspace: string; twinId: string; label?: string }): Promise<IssuedDeviceCredential>;
  /**
   * The credential a token belongs to; undefined when the token is malformed, unknown or revoked.
   * The secret is compared in constant time. @throws StorageError
   */
  verify(token: string): Promise<DeviceCredential | undefined>;
  /** Credentials of a workspace (of one twin when given), oldest first. @throws StorageError */
  list(workspace: string, twinId?: string): Promise<DeviceCredential[]>;
  /** Revokes one credential; false when the workspace holds no credential with that id. @throws StorageError */
  revoke(workspace: string, id: string): Promise<boolean>;
  /** Revokes every credential of a twin (the twin was deleted); returns how many. @throws StorageError */
  revokeTwin(workspace: string, twinId: string): Promise<number>;
  /** Every credential of a workspace with its digest, oldest first (for moving a store). @throws StorageError */
  exportCredentials(workspace: string): Promise<DeviceCredentialRecord[]>;
  /**
   * Inserts exported credentials as they are (id, creation time and digest kept), all or nothing, in
   * the given order. @throws Conflict (nothing written) when an id is already stored; BadRequest when a
   * digest is not 32 bytes or a field cannot be stored; StorageError
   */
  importCredentials(records: readonly DeviceCredentialRecord[]): Promise<void>;
}

const TOKEN = /^tldc_(dc_[0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** Splits a token into its credential id and secret; undefined when it is not a device token. */
export function parseDeviceToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Refuses records that could not verify a token after the move. @throws BadRequest */
export function checkCredentialRecords(records: readonly DeviceCredentialRecord[]): void {
  records.forEach((r, i) => {
    if (!/^dc_[0-9a-f]{16}$/.test(String(r.id)))
      throw new TwinloopError(
        'BadRequest',
        `Credential ${i}: the id ${JSON.stringify(r.id)} is not a credential id.`,
      );
    if (!Buffer.isBuffer(r.digest) || r.digest.length !== 32)
      throw new TwinloopError('BadRequest', `Credential ${r.id}: the digest must be 32 bytes.`);
    if (typeof r.workspace !== 'string' || typeof r.twinId !== 'string' || !Number.isSafeInteger(r.createdAt))
      throw new TwinloopError(
        'BadRequest',
        `Credential ${r.id}: workspace, twinId and createdAt are required.`,
      );
  });
}
