/**
 * DeviceCredentialStore on SQLite: one row per credential with the SHA-256 digest of its secret,
 * never the secret. Lookup is by the public id carried in the token; the digest is then compared in
 * constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  DeviceCredential,
  DeviceCredentialRecord,
  DeviceCredentialStore,
  IssuedDeviceCredential,
} from '../../core/ports/device-credential-store.js';
import { checkCredentialRecords, parseDeviceToken } from '../../core/ports/device-credential-store.js';
import { storageError } from './sqlite-database.js';
import { secretDigest, toCredential, type CredentialRow } from '../sql/device-credential-rows.js';

type Row = CredentialRow;
const digest = secretDigest;

export class SqliteDeviceCredentialStore implements DeviceCredentialStore {
  private readonly db: Database.Database;
  private readonly stmt: {
    insert: Database.Statement<[string, string, string, string | null, number, Buffer]>;
    byId: Database.Statement<[string], Row>;
    list: Database.Statement<[string], Row>;
    listTwin: Database.Statement<[string, string], Row>;
    revoke: Database.Statement<[string, string]>;
    revokeTwin: Database.Statement<[string, string]>;
  };

  constructor(db: Database.Database) {
    this.db = db;
    this.stmt = {
      insert: db.prepare(
        'INSERT INTO device_credentials (id, workspace, twin_id, label, created_at, digest) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      byId: db.prepare('SELECT * FROM device_credentials WHERE id = ?'),
      list: db.prepare('SELECT * FROM device_credentials WHERE workspace = ? ORDER BY seq'),
      listTwin: db.prepare(
        'SELECT * FROM device_credentials WHERE workspace = ? AND twin_id = ? ORDER BY seq',
      ),
      revoke: db.prepare('DELETE FROM device_credentials WHERE workspace = ? AND id = ?'),
      revokeTwin: db.prepare('DELETE FROM device_credentials WHERE workspace = ? AND twin_id = ?'),
    };
  }

  // Synchronous inside (better-sqlite3), asynchronous to the port: a throw becomes a rejection.
  async create(input: {
    workspace: string;
    twinId: string;
    label?: string;
  }): Promise<IssuedDeviceCredential> {
    const id = `dc_${randomBytes(8).toString('hex')}`;
    const secret = randomBytes(32).toString('base64url');
    const credential: DeviceCredential = {
      id,
      workspace: input.workspace,
      twinId: input.twinId,
      createdAt: Date.now(),
    };
    if (input.label !== undefined) credential.label = input.label;
    try {
      this.stmt.insert.run(
        id,
        input.workspace,
        input.twinId,
        input.label ?? null,
        credential.createdAt,
        digest(secret),
      );
    } catch (e) {
      throw storageError('Cannot store a device credential', e);
    }
    return { credential, token: `tldc_${id}_${secret}` };
  }

  async verify(token: string): Promise<DeviceCredential | undefined> {
    const t = typeof token === 'string' ? parseDeviceToken(token) : undefined;
    if (!t) return undefined;
    let row: Row | undefined;
    try {
      row = this.stmt.byId.get(t.id);
    } catch (e) {
      throw storageError('Cannot read device credentials', e);
    }
    if (!row || row.digest.length !== 32) return undefined;
    return timingSafeEqual(digest(t.secret), row.digest) ? toCredential(row) : undefined;
  }

  async list(workspace: string, twinId?: string): Promise<DeviceCredential[]> {
    try {
      const rows =
        twinId === undefined ? this.stmt.list.all(workspace) : this.stmt.listTwin.all(workspace, twinId);
      return rows.map(toCredential);
    } catch (e) {
      throw storageError('Cannot read device credentials', e);
    }
  }

  async revoke(workspace: string, id: string): Promise<boolean> {
    try {
      return this.stmt.revoke.run(workspace, id).changes > 0;
    } catch (e) {
      throw storageError('Cannot revoke a device credential', e);
    }
  }

  async revokeTwin(workspace: string, twinId: string): Promise<number> {
    try {
      return this.stmt.revokeTwin.run(workspace, twinId).changes;
    } catch (e) {
      throw storageError('Cannot revoke device credentials', e);
    }
  }

  async exportCredentials(workspace: string): Promise<DeviceCredentialRecord[]> {
    try {
      return this.stmt.list
        .all(workspace)
        .map((r) => ({ ...toCredential(r), digest: Buffer.from(r.digest) }));
    } catch (e) {
      throw storageError('Cannot read device credentials', e);
    }
  }

  async importCredentials(records: readonly DeviceCredentialRecord[]): Promise<void> {
    checkCredentialRecords(records);
    const insertAll = this.db.transaction((rs: readonly DeviceCredentialRecord[]) => {
      for (const r of rs) {
        if (this.stmt.byId.get(r.id)) {
          throw new TwinloopError('Conflict', `A device credential with id ${r.id} is already stored.`);
        }
        this.stmt.insert.run(
          r.id,
          r.workspace,
          r.twinId,
          r.label ?? null,
          r.createdAt,
          Buffer.from(r.digest),
        );
      }
    });
    try {
      insertAll(records);
    } catch (e) {
      if (e instanceof TwinloopError) throw e;
      throw storageError('Cannot store device credentials', e);
    }
  }
}
