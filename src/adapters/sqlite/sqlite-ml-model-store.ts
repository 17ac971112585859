/**
 * MlModelStore on SQLite: a head row per (workspace, kind, target) holding the last version given and
 * the active model, one row per model (JSON fields as text), its artefact in a table of its own (so
 * lists never read megabytes), and the activation log. Each write is one transaction (better-sqlite3
 * is synchronous: nothing else runs on this connection meanwhile), so two adds never take one version
 * and an activation retires the previous model in the same commit.
 */
import type Database from 'better-sqlite3';
import {
  type MlActivation,
  type MlActivationInfo,
  type MlActivationQuery,
  type MlActivationResult,
  type MlModelKind,
  type MlModelQuery,
  type MlModelRecord,
  type MlModelStore,
  type NewMlModel,
} from '../../core/ports/ml-model-store.js';
import { TwinloopError } from '../../core/errors/errors.js';
import {
  ML_ACTIVATION_COLUMNS,
  checkActivationInfo,
  checkBeforeSeq,
  checkImportedActivation,
  checkKind,
  checkMlText,
  checkStatus,
  mlActivationFromRow,
  mlModelActive,
  mlModelColumns,
  mlModelExists,
  mlModelFromRow,
  mlModelId,
  mlModelNotFound,
  mlPageLimit,
  planRollback,
  prepareImportedModel,
  prepareMlModel,
  targetLabel,
  type MlActivationRow,
  type MlModelRow,
  type PreparedMlModel,
} from '../sql/ml-model-rows.js';
import { storageError } from './sqlite-database.js';

interface HeadRow {
  latest: number;
  active_id: string | null;
}

function isUnique(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * @example
 *   const models = new SqliteMlModelStore(db);
 *   const m = await models.add({ workspace, kind: 'rul', target: 'dtmi:x:Pump;1', … });
 *   await models.setActive(workspace, m.id, { at: Date.now(), by: 'alice' });
 */
export class SqliteMlModelStore implements MlModelStore {
  private readonly s: {
    nextVersion: Database.Statement<[string, string, string], { latest: number }>;
    head: Database.Statement<[string, string, string], HeadRow>;
    insert: Database.Statement<unknown[], { seq: number }>;
    insertArtefact: Database.Statement<[string, string, string]>;
    get: Database.Statement<[string, string], MlModelRow>;
    artefact: Database.Statement<[string, string], { artefact: string }>;
    setStatus: Database.Statement<[string, number | null, string, string]>;
    setHeadActive: Database.Statement<[string | null, string, string, string]>;
    log: Database.Statement<[string, string, string], MlActivationRow>;
    insertActivation: Database.Statement<unknown[], { seq: number }>;
    remove: Database.Statement<[string, string]>;
    removeArtefact: Database.Statement<[string, string]>;
    importHead: Database.Statement<[string, string, string, number, string | null]>;
  };
  private readonly shapes = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(private readonly db: Database.Database) {
    const cols = mlModelColumns();
    this.s = {
      nextVersion: db.prepare(
        `INSERT INTO ml_model_heads (workspace, kind, target, latest, active_id) VALUES (?, ?, ?, 1, NULL)
         ON CONFLICT (workspace, kind, target) DO UPDATE SET latest = latest + 1 RETURNING latest`,
      ),
      head: db.prepare(
        'SELECT latest, active_id FROM ml_model_heads WHERE workspace = ? AND kind = ? AND target = ?',
      ),
      insert: db.prepare(
        `INSERT INTO ml_models (workspace, id, kind, target, version, status, created_at, activated_at, features,
                                training_range, metrics, code_version, note, artefact_size)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
      ),
      insertArtefact: db.prepare('INSERT INTO ml_model_artefacts (workspace, id, artefact) VALUES (?, ?, ?)'),
      get: db.prepare(`SELECT ${cols} FROM ml_models WHERE workspace = ? AND id = ?`),
      artefact: db.prepare('SELECT artefact FROM ml_model_artefacts WHERE workspace = ? AND id = ?'),
      setStatus: db.prepare(
        'UPDATE ml_models SET status = ?, activated_at = coalesce(?, activated_at) WHERE workspace = ? AND id = ?',
      ),
      setHeadActive: db.prepare(
        'UPDATE ml_model_heads SET active_id = ? WHERE workspace = ? AND kind = ? AND target = ?',
      ),
      log: db.prepare(
        `SELECT ${ML_ACTIVATION_COLUMNS} FROM ml_model_activations WHERE workspace = ? AND kind = ? AND target = ?
         ORDER BY seq DESC`,
      ),
      insertActivation: db.prepare(
        `INSERT INTO ml_model_activations (workspace, kind, target, action, model_id, version, from_id, from_version,
                                           rollback_to_id, at, by_whom, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
      ),
      remove: db.prepare('DELETE FROM ml_models WHERE workspace = ? AND id = ?'),
      removeArtefact: db.prepare('DELETE FROM ml_model_artefacts WHERE workspace = ? AND id = ?'),
      importHead: db.prepare(
        `INSERT INTO ml_model_heads (workspace, kind, target, latest, active_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (workspace, kind, target) DO UPDATE SET latest = max(latest, excluded.latest),
           active_id = coalesce(excluded.active_id, active_id)`,
      ),
    };
  }

  async add(model: NewMlModel): Promise<MlModelRecord> {
    const p = prepareMlModel(model);
    // Checking a big artefact took a while: let other work run before the (synchronous) write.
    if (model.artefact.length > 256 * 1024) await new Promise((resolve) => setImmediate(resolve));
    return this.write('Cannot store an ML model', () => {
      const { m } = p;
      const version = this.s.nextVersion.get(m.workspace, m.kind, m.target)!.latest;
      const id = mlModelId(m.kind, m.target, version);
      return this.insertRow(p, id, version, 'candidate', undefined);
    });
  }

  private insertRow(
    p: PreparedMlModel,
    id: string,
    version: number,
    status: string,
    activatedAt: number | undefined,
  ): MlModelRecord {
    const { m } = p;
    let seq: number;
    try {
      seq = this.s.insert.get(
        m.workspace,
        id,
        m.kind,
        m.target,
        version,
        status,
        m.createdAt,
        activatedAt ?? null,
        p.features,
        p.trainingRange,
        p.metrics,
        m.codeVersion,
        m.note ?? null,
        m.artefact.length,
      )!.seq;
      this.s.insertArtefact.run(m.workspace, id, m.artefact);
    } catch (e) {
      if (isUnique(e)) throw mlModelExists(id);
      throw e;
    }
    return mlModelFromRow({
      seq,
      workspace: m.workspace,
      id,
      kind: m.kind,
      target: m.target,
      version,
      status,
      created_at: m.createdAt,
      activated_at: activatedAt ?? null,
      features: p.features,
      training_range: p.trainingRange,
      metrics: p.metrics,
      code_version: m.codeVersion,
      note: m.note ?? null,
      artefact_size: m.artefact.length,
    });
  }

  async get(
    workspace: string,
    id: string,
    options: { artefact?: boolean } = {},
  ): Promise<MlModelRecord | undefined> {
    checkMlText({ workspace, id });
    return this.read('Cannot read an ML model', () => {
      const r = this.s.get.get(workspace, id);
      if (!r) return undefined;
      return mlModelFromRow(
        r,
        options.artefact === true ? this.s.artefact.get(workspace, id)?.artefact : undefined,
      );
    });
  }

  async list(q: MlModelQuery): Promise<MlModelRecord[]> {
    checkMlText({ workspace: q.workspace, ...(q.target !== undefined ? { target: q.target } : {}) });
    checkKind(q.kind);
    checkStatus(q.status);
    checkBeforeSeq(q.beforeSeq);
    const limit = mlPageLimit(q.limit);
    const where = ['workspace = ?'];
    const args: unknown[] = [q.workspace];
    for (const [col, v] of [
      ['kind', q.kind],
      ['target', q.target],
      ['status', q.status],
      ['seq <', q.beforeSeq],
    ] as const) {
      if (v === undefined) continue;
      where.push(col.includes('<') ? `${col} ?` : `${col} = ?`);
      args.push(v);
    }
    args.push(limit);
    return this.read('Cannot list ML models', () =>
      (
        this.shape(
          `SELECT ${mlModelColumns()} FROM ml_models WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`,
        ).all(...args) as MlModelRow[]
      ).map((r) => mlModelFromRow(r)),
    );
  }

  async setActive(workspace: string, id: string, info: MlActivationInfo): Promise<MlActivationResult> {
    checkMlText({ workspace, id });
    checkActivationInfo(info);
    return this.write('Cannot activate an ML model', () => {
      const row = this.s.get.get(workspace, id);
      if (!row) throw mlModelNotFound(workspace, id);
      const head = this.s.head.get(workspace, row.kind, row.target);
      return this.activate(row, head?.active_id ?? undefined, 'promote', head?.active_id ?? undefined, info);
    });
  }

  async rollback(
    workspace: string,
    kind: MlModelKind,
    target: string,
    info: MlActivationInfo,
  ): Promise<MlActivationResult> {
    checkMlText({ workspace, target });
    checkKind(kind, true);
    checkActivationInfo(info);
    return this.write('Cannot roll back an ML model', () => {
      const head = this.s.head.get(workspace, kind, target);
      const label = targetLabel(kind, target);
      if (!head?.active_id)
        throw new TwinloopError('Conflict', `Cannot roll back ${label}: no model of it is active.`, {
          innerCode: 'MlNothingToRollBack',
        });
      const log = this.s.log.all(workspace, kind, target).map(mlActivationFromRow);
      const plan = planRollback(
        log,
        head.active_id,
        (mid) => this.s.get.get(workspace, mid) !== undefined,
        label,
      );
      const row = this.s.get.get(workspace, plan.to)!;
      return this.activate(row, head.active_id, 'rollback', plan.rollbackToId, info);
    });
  }

  /** Inside a transaction: makes `row` active, retires `current`, logs it. */
  private activate(
    row: MlModelRow,
    current: string | undefined,
    action: MlActivation['action'],
    rollbackToId: string | undefined,
    info: MlActivationInfo,
  ): MlActivationResult {
    const { workspace } = row;
    if (current === row.id) return { model: mlModelFromRow(row), changed: false };
    const prevRow = current !== undefined ? this.s.get.get(workspace, current) : undefined;
    if (prevRow) this.s.setStatus.run('retired', null, workspace, prevRow.id);
    this.s.setStatus.run('active', info.at, workspace, row.id);
    this.s.setHeadActive.run(row.id, workspace, row.kind, row.target);
    const entry = {
      workspace,
      kind: row.kind as MlModelKind,
      target: row.target,
      action,
      modelId: row.id,
      version: Number(row.version),
      ...(prevRow ? { fromId: prevRow.id, fromVersion: Number(prevRow.version) } : {}),
      ...(rollbackToId !== undefined ? { rollbackToId } : {}),
      at: info.at,
      by: info.by,
      ...(info.reason !== undefined ? { reason: info.reason } : {}),
    };
    const seq = this.insertActivation(entry);
    return {
      model: mlModelFromRow(this.s.get.get(workspace, row.id)!),
      ...(prevRow ? { previous: mlModelFromRow(this.s.get.get(workspace, prevRow.id)!) } : {}),
      changed: true,
      activation: { seq, ...entry },
    };
  }

  private insertActivation(a: Omit<MlActivation, 'seq'>): number {
    return this.s.insertActivation.get(
      a.workspace,
      a.kind,
      a.target,
      a.action,
      a.modelId,
      a.version,
      a.fromId ?? null,
      a.fromVersion ?? null,
      a.rollbackToId ?? null,
      a.at,
      a.by,
      a.reason ?? null,
    )!.seq;
  }

  async delete(workspace: string, id: string): Promise<boolean> {
    checkMlText({ workspace, id });
    return this.write('Cannot delete an ML model', () => {
      const row = this.s.get.get(workspace, id);
      if (!row) return false;
      const head = this.s.head.get(workspace, row.kind, row.target);
      if (row.status === 'active' || head?.active_id === id) throw mlModelActive(id);
      this.s.remove.run(workspace, id);
      this.s.removeArtefact.run(workspace, id);
      return true;
    });
  }

  async active(workspace: string, kind: MlModelKind, target: string): Promise<MlModelRecord | undefined> {
    checkMlText({ workspace, target });
    checkKind(kind, true);
    return this.read('Cannot read the active ML model', () => {
      const head = this.s.head.get(workspace, kind, target);
      if (!head?.active_id) return undefined;
      const r = this.s.get.get(workspace, head.active_id);
      return r && mlModelFromRow(r, this.s.artefact.get(workspace, r.id)?.artefact ?? '');
    });
  }

  async activations(q: MlActivationQuery): Promise<MlActivation[]> {
    checkMlText({ workspace: q.workspace, ...(q.target !== undefined ? { target: q.target } : {}) });
    checkKind(q.kind);
    checkBeforeSeq(q.beforeSeq);
    const limit = mlPageLimit(q.limit);
    const where = ['workspace = ?'];
    const args: unknown[] = [q.workspace];
    for (const [cond, v] of [
      ['kind = ?', q.kind],
      ['target = ?', q.target],
      ['seq < ?', q.beforeSeq],
    ] as const) {
      if (v === undefined) continue;
      where.push(cond);
      args.push(v);
    }
    args.push(limit);
    return this.read('Cannot read the ML activation log', () =>
      (
        this.shape(
          `SELECT ${ML_ACTIVATION_COLUMNS} FROM ml_model_activations WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`,
        ).all(...args) as MlActivationRow[]
      ).map(mlActivationFromRow),
    );
  }

  async importModels(models: readonly (MlModelRecord & { artefact: string })[]): Promise<void> {
    if (!Array.isArray(models))
      throw new TwinloopError('BadRequest', 'importModels takes an array of models.');
    const prepared = models.map(prepareImportedModel);
    return this.write('Cannot import ML models', () => {
      for (const p of prepared) {
        const m = p.m as MlModelRecord & { artefact: string };
        this.insertRow(p, m.id, m.version, m.status, m.activatedAt);
        this.s.importHead.run(m.workspace, m.kind, m.target, m.version, m.status === 'active' ? m.id : null);
      }
    });
  }

  async importActivations(entries: readonly MlActivation[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TwinloopError('BadRequest', 'importActivations takes an array.');
    entries.forEach(checkImportedActivation);
    return this.write('Cannot import the ML activation log', () => {
      for (const e of entries) this.insertActivation(e);
    });
  }

  private shape(sql: string): Database.Statement<unknown[], unknown> {
    let st = this.shapes.get(sql);
    if (!st) {
      st = this.db.prepare<unknown[], unknown>(sql);
      this.shapes.set(sql, st);
    }
    return st;
  }

  private read<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw storageError(what, e);
    }
  }

  private write<T>(what: string, fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      throw storageError(what, e);
    }
  }
}
