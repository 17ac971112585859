/**
 * BehaviourParameterStore on PostgreSQL: one row per twin for its applied parameters (values as
 * jsonb), one row per calibration (the report as jsonb beside the columns it is looked up by).
 * jsonb keeps `__proto__` as a plain key (pg parses rows with JSON.parse, which makes it an own
 * property). PostgreSQL text and jsonb cannot hold U+0000: a write with a NUL in an id, a
 * parameter name or a string of the report is refused with BadRequest; a lookup by such a key
 * finds nothing. Numbers round-trip exactly (jsonb keeps the shortest decimal JSON.stringify wrote).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  BehaviourParameters,
  BehaviourParameterStore,
  CalibrationRecord,
} from '../../core/ports/behaviour-parameter-store.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { anyNul, refuseNul } from './pg-text.js';

export const PG_BEHAVIOUR_PARAMETER_MIGRATIONS: PgComponentMigrations = {
  component: 'behaviour-parameters',
  migrations: [
    {
      version: 1,
      name: 'behaviour parameters and calibrations',
      sql: `
        -- The parameter values applied to a twin's behaviour (vals: object name -> number).
        CREATE TABLE behaviour_parameters (
          workspace text NOT NULL,
          twin_id text NOT NULL,
          behaviour text NOT NULL,
          vals jsonb NOT NULL,
          calibration_id text,
          applied_at bigint NOT NULL,
          PRIMARY KEY (workspace, twin_id)
        );
        -- Calibrations run on a twin; report: the rest of the CalibrationRecord.
        CREATE TABLE calibrations (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          workspace text NOT NULL,
          twin_id text NOT NULL,
          id text NOT NULL,
          behaviour text NOT NULL,
          created_at bigint NOT NULL,
          report jsonb NOT NULL,
          UNIQUE (workspace, twin_id, id)
        );
        CREATE INDEX calibrations_by_twin ON calibrations (workspace, twin_id, created_at, seq);
      `,
    },
  ],
};

interface ParameterRow {
  workspace: string;
  twin_id: string;
  behaviour: string;
  vals: Record<string, number>;
  calibration_id: string | null;
  applied_at: number;
}

interface CalibrationRow {
  workspace: string;
  twin_id: string;
  id: string;
  behaviour: string;
  created_at: number;
  report: Report;
}

/** The report column: the record without the columns stored beside it. */
type Report = Omit<CalibrationRecord, 'id' | 'workspace' | 'twinId' | 'behaviour' | 'createdAt'>;

const DEFAULT_LIST_LIMIT = 100;

function checkValues(values: Record<string, number>): void {
  const bad = Object.entries(values).filter(([, v]) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad.length) {
    throw new TwinloopError(
      'BadRequest',
      `Parameter values must be finite numbers: ${bad.map(([k, v]) => `${k}=${String(v)}`).join(', ')}.`,
    );
  }
}

/**
 * @example
 *   const store = new PgBehaviourParameterStore(db);
 *   await store.put({ workspace: 'default', twinId: 'pump-1', behaviour: 'pump', values: { tau: 412 }, appliedAt: Date.now() });
 */
export class PgBehaviourParameterStore implements BehaviourParameterStore {
  constructor(private readonly db: PgDatabase) {}

  async get(workspace: string, twinId: string): Promise<BehaviourParameters | undefined> {
    if (anyNul(workspace, twinId)) return undefined;
    const r = await this.db.query<ParameterRow>(
      'SELECT * FROM behaviour_parameters WHERE workspace = $1 AND twin_id = $2',
      [workspace, twinId],
    );
    return r.rows[0] && parametersFromRow(r.rows[0]);
  }

  async listParameters(workspace: string): Promise<BehaviourParameters[]> {
    if (anyNul(workspace)) return [];
    const r = await this.db.query<ParameterRow>(
      'SELECT * FROM behaviour_parameters WHERE workspace = $1 ORDER BY twin_id',
      [workspace],
    );
    return r.rows.map(parametersFromRow);
  }

  /** @throws BadRequest (a value not finite, a NUL in an id or a name); StorageError */
  async put(p: BehaviourParameters): Promise<void> {
    checkValues(p.values);
    refuseNul('behaviour parameters', {
      workspace: p.workspace,
      twinId: p.twinId,
      behaviour: p.behaviour,
      calibrationId: p.calibrationId,
      values: p.values,
    });
    await this.db.query(
      `INSERT INTO behaviour_parameters (workspace, twin_id, behaviour, vals, calibration_id, applied_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6)
       ON CONFLICT (workspace, twin_id) DO UPDATE SET behaviour = excluded.behaviour, vals = excluded.vals,
         calibration_id = excluded.calibration_id, applied_at = excluded.applied_at`,
      [p.workspace, p.twinId, p.behaviour, JSON.stringify(p.values), p.calibrationId ?? null, p.appliedAt],
    );
  }

  async delete(workspace: string, twinId: string): Promise<boolean> {
    if (anyNul(workspace, twinId)) return false;
    const r = await this.db.query('DELETE FROM behaviour_parameters WHERE workspace = $1 AND twin_id = $2', [
      workspace,
      twinId,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  /** @throws Conflict when the twin has a calibration with this id; BadRequest (a NUL); StorageError */
  async addCalibration(record: CalibrationRecord): Promise<void> {
    const { id, workspace, twinId, behaviour, createdAt, ...report } = record;
    refuseNul('a calibration', { id, workspace, twinId, behaviour, report });
    const r = await this.db.query(
      `INSERT INTO calibrations (workspace, twin_id, id, behaviour, created_at, report)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (workspace, twin_id, id) DO NOTHING`,
      [workspace, twinId, id, behaviour, createdAt, JSON.stringify(report satisfies Report)],
    );
    if (r.rowCount === 0) {
      throw new TwinloopError('Conflict', `Twin '${twinId}' already has a calibration '${id}'.`);
    }
  }

  async getCalibration(
    workspace: string,
    twinId: string,
    id: string,
  ): Promise<CalibrationRecord | undefined> {
    if (anyNul(workspace, twinId, id)) return undefined;
    const r = await this.db.query<CalibrationRow>(
      'SELECT workspace, twin_id, id, behaviour, created_at, report FROM calibrations WHERE workspace = $1 AND twin_id = $2 AND id = $3',
      [workspace, twinId, id],
    );
    return r.rows[0] && fromRow(r.rows[0]);
  }

  async listCalibrations(
    workspace: string,
    twinId: string,
    limit = DEFAULT_LIST_LIMIT,
  ): Promise<CalibrationRecord[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new TwinloopError('BadRequest', `limit must be a positive whole number (got ${limit}).`);
    }
    if (anyNul(workspace, twinId)) return [];
    const r = await this.db.query<CalibrationRow>(
      `SELECT workspace, twin_id, id, behaviour, created_at, report FROM calibrations
       WHERE workspace = $1 AND twin_id = $2 ORDER BY created_at DESC, seq DESC LIMIT $3`,
      [workspace, twinId, limit],
    );
    return r.rows.map(fromRow);
  }

  async deleteTwin(workspace: string, twinId: string): Promise<void> {
    if (anyNul(workspace, twinId)) return;
    await this.db.transaction(async (c) => {
      await c.query('DELETE FROM behaviour_parameters WHERE workspace = $1 AND twin_id = $2', [
        workspace,
        twinId,
      ]);
      await c.query('DELETE FROM calibrations WHERE workspace = $1 AND twin_id = $2', [workspace, twinId]);
    });
  }
}

function parametersFromRow(row: ParameterRow): BehaviourParameters {
  const out: BehaviourParameters = {
    workspace: row.workspace,
    twinId: row.twin_id,
    behaviour: row.behaviour,
    values: row.vals,
    appliedAt: row.applied_at,
  };
  if (row.calibration_id !== null) out.calibrationId = row.calibration_id;
  return out;
}

function fromRow(row: CalibrationRow): CalibrationRecord {
  return {
    id: row.id,
    workspace: row.workspace,
    twinId: row.twin_id,
    behaviour: row.behaviour,
    createdAt: row.created_at,
    ...row.report,
  };
}
