/**
 * DeviceCredentialStore on PostgreSQL: one row per credential with the SHA-256 digest of its secret
 * (bytea), never the secret. Lookup is by the public id carried in the token; the digest is then
 * compared in constant time here, not in SQL (a `WHERE digest = $1` would compare with memcmp).
 * A workspace, twin id or label holding a NUL is refused (PostgreSQL text cannot hold one);
 * lookups by such a key find nothing.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  DeviceCredential,
  DeviceCredentialRecord,
  DeviceCredentialStore,
  IssuedDeviceCredential,
} from '../../core/ports/device-credential-store.js';
import { checkCredentialRecords, parseDeviceToken } from '../../core/ports/device-credential-store.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { anyNul, refuseNul } from './pg-text.js';
import { secretDigest, toCredential, type CredentialRow } from '../sql/device-credential-rows.js';

export const PG_DEVICE_CREDENTIAL_MIGRATIONS: PgComponentMigrations = {
  component: 'device-credentials',
  migrations: [
    {
      version: 1,
      name: 'device credentials',
      sql: `
        -- A token scoped to one twin; digest: SHA-256 of the token's secret (the secret is never stored).
        CREATE TABLE device_credentials (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          id text NOT NULL UNIQUE,
          workspace text NOT NULL,
          twin_id text NOT NULL,
          label text,
          created_at bigint NOT NULL,
          digest bytea NOT NULL CHECK (octet_length(digest) = 32)
        );
        CREATE INDEX device_credentials_by_twin ON device_credentials (workspace, twin_id, seq);
      `,
    },
  ],
};

type Row = CredentialRow;
const digest = secretDigest;

const COLUMNS = 'id, workspace, twin_id, label, created_at, digest';

/**
 * @example
 *   const credentials = new PgDeviceCredentialStore(db);
 *   const { token } = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
 *   (await credentials.verify(token))?.twinId; // 'pump-1'
 */
export class PgDeviceCredentialStore implements DeviceCredentialStore {
  constructor(private readonly db: PgDatabase) {}

  /** @throws BadRequest when a field holds a NUL; StorageError */
  async create(input: {
    workspace: string;
    twinId: string;
    label?: string;
  }): Promise<IssuedDeviceCredential> {
    refuseNul('a device credential', {
      workspace: input.workspace,
      twinId: input.twinId,
      label: input.label,
    });
    const id = `dc_${randomBytes(8).toString('hex')}`;
    const secret = randomBytes(32).toString('base64url');
    const credential: DeviceCredential = {
      id,
      workspace: input.workspace,
      twinId: input.twinId,
      createdAt: Date.now(),
    };
    if (input.label !== undefined) credential.label = input.label;
    await this.db.query(
      'INSERT INTO device_credentials (id, workspace, twin_id, label, created_at, digest) VALUES ($1, $2, $3, $4, $5, $6)',
      [id, input.workspace, input.twinId, input.label ?? null, credential.createdAt, digest(secret)],
    );
    return { credential, token: `tldc_${id}_${secret}` };
  }

  async verify(token: string): Promise<DeviceCredential | undefined> {
    const t = typeof token === 'string' ? parseDeviceToken(token) : undefined;
    if (!t) return undefined; // the token's shape admits no NUL: t.id is safe to send
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM device_credentials WHERE id = $1`, [t.id]);
    const row = r.rows[0];
    if (!row || row.digest.length !== 32) return undefined;
    return timingSafeEqual(digest(t.secret), row.digest) ? toCredential(row) : undefined;
  }

  async list(workspace: string, twinId?: string): Promise<DeviceCredential[]> {
    if (anyNul(workspace, twinId)) return [];
    const r =
      twinId === undefined
        ? await this.db.query<Row>(
            `SELECT ${COLUMNS} FROM device_credentials WHERE workspace = $1 ORDER BY seq`,
            [workspace],
          )
        : await this.db.query<Row>(
            `SELECT ${COLUMNS} FROM device_credentials WHERE workspace = $1 AND twin_id = $2 ORDER BY seq`,
            [workspace, twinId],
          );
    return r.rows.map(toCredential);
  }

  async revoke(workspace: string, id: string): Promise<boolean> {
    if (anyNul(workspace, id)) return false;
    const r = await this.db.query('DELETE FROM device_credentials WHERE workspace = $1 AND id = $2', [
      workspace,
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async revokeTwin(workspace: string, twinId: string): Promise<number> {
    if (anyNul(workspace, twinId)) return 0;
    const r = await this.db.query('DELETE FROM device_credentials WHERE workspace = $1 AND twin_id = $2', [
      workspace,
      twinId,
    ]);
    return r.rowCount ?? 0;
  }

  async exportCredentials(workspace: string): Promise<DeviceCredentialRecord[]> {
    if (anyNul(workspace)) return [];
    const r = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM device_credentials WHERE workspace = $1 ORDER BY seq`,
      [workspace],
    );
    return r.rows.map((row) => ({ ...toCredential(row), digest: Buffer.from(row.digest) }));
  }

  async importCredentials(records: readonly DeviceCredentialRecord[]): Promise<void> {
    checkCredentialRecords(records);
    for (const r of records) {
      refuseNul('a device credential', { workspace: r.workspace, twinId: r.twinId, label: r.label });
    }
    if (records.length === 0) return;
    await this.db.transaction(async (c) => {
      const ids = records.map((r) => r.id);
      const taken = await c.query<{ id: string }>(
        'SELECT id FROM device_credentials WHERE id = ANY($1::text[]) LIMIT 1',
        [ids],
      );
      if (taken.rows[0]) {
        throw new TwinloopError(
          'Conflict',
          `A device credential with id ${taken.rows[0].id} is already stored.`,
        );
      }
      // One row at a time keeps seq (the list order) in the given order.
      for (const r of records) {
        await c.query(
          'INSERT INTO device_credentials (id, workspace, twin_id, label, created_at, digest) VALUES ($1, $2, $3, $4, $5, $6)',
          [r.id, r.workspace, r.twinId, r.label ?? null, r.createdAt, r.digest],
        );
      }
    });
  }
}
