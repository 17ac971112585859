/**
 * The external-broker client id of a data folder: random, created once and kept in the folder
 * (`mqtt-client-id`, mode 0600), so a restart resumes the broker's persistent session while nobody
 * can guess it (a client connecting with Twinloop's id would take over its session and the
 * messages queued for it). It is a secret: log `fingerprint` only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { TwinloopError } from '../../core/errors/errors.js';

export const CLIENT_ID_FILE = 'mqtt-client-id';
const FORMAT = /^twinloop-[0-9a-f]{32}$/;

export interface MqttClientIdentity {
  clientId: string;
  /** First 8 hex digits of the id's SHA-256: enough to tell ids apart in logs, useless to connect. */
  fingerprint: string;
  /** True when this call created it (a new session on the broker). */
  created: boolean;
}

/** A loggable fingerprint of a client id. */
export function clientIdFingerprint(clientId: string): string {
  return createHash('sha256').update(clientId).digest('hex').slice(0, 8);
}

/**
 * Reads the folder's client id, creating it (exclusively, 0600) on first use.
 * @throws TwinloopError('StorageCorrupt') when the file holds something else than an id.
 */
export function ensureMqttClientId(dataDir: string): MqttClientIdentity {
  const file = path.join(dataDir, CLIENT_ID_FILE);
  let created = false;
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `twinloop-${randomBytes(16).toString('hex')}\n`);
    } finally {
      closeSync(fd);
    }
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const clientId = readFileSync(file, 'utf8').trim();
  if (!FORMAT.test(clientId)) {
    throw new TwinloopError(
      'StorageCorrupt',
      `${file} does not hold an MQTT client id (twinloop- and 32 hex digits). Delete it to get a new one (the broker's session for the old id, and what it queued, is then not resumed).`,
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return { clientId, fingerprint: clientIdFingerprint(clientId), created };
}
