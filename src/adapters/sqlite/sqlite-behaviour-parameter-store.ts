/**
 * BehaviourParameterStore on SQLite: one row per twin for its applied parameters (values as JSON),
 * one row per calibration (the report as JSON beside the columns it is looked up by). Writes are
 * single statements, committed (and fsynced per the database's synchronous setting) on return.
 */
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  BehaviourParameters,
  BehaviourParameterStore,
  CalibrationRecord,
} from '../../core/ports/behaviour-parameter-store.js';
import { storageError } from './sqlite-database.js';

interface ParameterRow {
  workspace: string;
  twin_id: string;
  behaviour: string;
  vals: string;
  calibration_id: string | null;
  applied_at: number;
}

interface CalibrationRow {
  workspace: string;
  twin_id: string;
  id: string;
  behaviour: string;
  created_at: number;
  report: string;
}

/** The report column: the record without the columns stored beside it. */
type Report = Omit<CalibrationRecord, 'id' | 'workspace' | 'twinId' | 'behaviour' | 'createdAt'>;

const DEFAULT_LIST_LIMIT = 100;

function isConstraintError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function checkValues(values: Record<string, number>): void {
  const bad = Object.entries(values).filter(([, v]) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad.length) {
    throw new TwinloopError(
      'BadRequest',
      `Parameter values must be finite numbers: ${bad.map(([k, v]) => `${k}=${String(v)}`).join(', ')}.`,
    );
  }
}

export class SqliteBehaviourParameterStore implements BehaviourParameterStore {
  constructor(private readonly db: Database.Database) {}

  // Synchronous inside (better-sqlite3), asynchronous to the port: a throw becomes a rejection.
  async get(workspace: string, twinId: string): Promise<BehaviourParameters | undefined> {
    let row: ParameterRow | undefined;
    try {
      row = this.db
        .prepare<[string, string], ParameterRow>(
          'SELECT * FROM behaviour_parameters WHERE workspace = ? AND twin_id = ?',
        )
        .get(workspace, twinId);
    } catch (e) {
      throw storageError('Cannot read behaviour parameters', e);
    }
    return row && parametersFromRow(row);
  }

  async listParameters(workspace: string): Promise<BehaviourParameters[]> {
    try {
      return this.db
        .prepare<[string], ParameterRow>('SELECT * FROM behaviour_parameters WHERE workspace = ?')
        .all(workspace)
        .map(parametersFromRow);
    } catch (e) {
      throw storageError('Cannot read behaviour parameters', e);
    }
  }

  async put(p: BehaviourParameters): Promise<void> {
    checkValues(p.values);
    try {
      this.db
        .prepare(
          `INSERT OR REPLACE INTO behaviour_parameters
             (workspace, twin_id, behaviour, vals, calibration_id, applied_at) VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(
          p.workspace,
          p.twinId,
          p.behaviour,
          JSON.stringify(p.values),
          p.calibrationId ?? null,
          p.appliedAt,
        );
    } catch (e) {
      throw storageError('Cannot store behaviour parameters', e);
    }
  }

  async delete(workspace: string, twinId: string): Promise<boolean> {
    try {
      return (
        this.db
          .prepare('DELETE FROM behaviour_parameters WHERE workspace = ? AND twin_id = ?')
          .run(workspace, twinId).changes > 0
      );
    } catch (e) {
      throw storageError('Cannot delete behaviour parameters', e);
    }
  }

  async addCalibration(record: CalibrationRecord): Promise<void> {
    const { id, workspace, twinId, behaviour, createdAt, ...report } = record;
    try {
      this.db
        .prepare(
          `INSERT INTO calibrations (workspace, twin_id, id, behaviour, created_at, report)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(workspace, twinId, id, behaviour, createdAt, JSON.stringify(report satisfies Report));
    } catch (e) {
      if (isConstraintError(e)) {
        throw new TwinloopError('Conflict', `Twin '${twinId}' already has a calibration '${id}'.`, {
          cause: e,
        });
      }
      throw storageError('Cannot store a calibration', e);
    }
  }

  async getCalibration(
    workspace: string,
    twinId: string,
    id: string,
  ): Promise<CalibrationRecord | undefined> {
    try {
      const row = this.db
        .prepare<[string, string, string], CalibrationRow>(
          'SELECT * FROM calibrations WHERE workspace = ? AND twin_id = ? AND id = ?',
        )
        .get(workspace, twinId, id);
      return row && fromRow(row);
    } catch (e) {
      throw storageError('Cannot read a calibration', e);
    }
  }

  async listCalibrations(
    workspace: string,
    twinId: string,
    limit = DEFAULT_LIST_LIMIT,
  ): Promise<CalibrationRecord[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new TwinloopError('BadRequest', `limit must be a positive whole number (got ${limit}).`);
    }
    try {
      return this.db
        .prepare<[string, string, number], CalibrationRow>(
          `SELECT * FROM calibrations WHERE workspace = ? AND twin_id = ?
           ORDER BY created_at DESC, seq DESC LIMIT ?`,
        )
        .all(workspace, twinId, limit)
        .map(fromRow);
    } catch (e) {
      throw storageError('Cannot list calibrations', e);
    }
  }

  async deleteTwin(workspace: string, twinId: string): Promise<void> {
    try {
      this.db.transaction(() => {
        this.db
          .prepare('DELETE FROM behaviour_parameters WHERE workspace = ? AND twin_id = ?')
          .run(workspace, twinId);
        this.db
          .prepare('DELETE FROM calibrations WHERE workspace = ? AND twin_id = ?')
          .run(workspace, twinId);
      })();
    } catch (e) {
      throw storageError('Cannot delete the behaviour data of a twin', e);
    }
  }
}

function parametersFromRow(row: ParameterRow): BehaviourParameters {
  const out: BehaviourParameters = {
    workspace: row.workspace,
    twinId: row.twin_id,
    behaviour: row.behaviour,
    values: JSON.parse(row.vals) as Record<string, number>,
    appliedAt: row.applied_at,
  };
  if (row.calibration_id !== null) out.calibrationId = row.calibration_id;
  return out;
}

function fromRow(row: CalibrationRow): CalibrationRecord {
  const report = JSON.parse(row.report) as Report;
  return {
    id: row.id,
    workspace: row.workspace,
    twinId: row.twin_id,
    behaviour: row.behaviour,
    createdAt: row.created_at,
    ...report,
  };
}
