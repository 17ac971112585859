/**
 * RuleStore on SQLite: a head row per rule (latest version, deleted or not) and one row per version
 * with its canonical JSON. A put runs in one transaction, so two puts never take the same number.
 * The same store keeps scene bindings in their own tables (VersionedDocumentTables).
 */
import type Database from 'better-sqlite3';
import type {
  RulePutResult,
  RuleStore,
  StoredRule,
  VersionedDocumentTables,
} from '../../core/ports/rule-store.js';
import { RULE_TABLES } from '../../core/ports/rule-store.js';
import { canonicalJson } from '../../core/ports/rule-store.js';
import { storageError } from './sqlite-database.js';
import { ruleFromRow, type RuleVersionRow } from '../sql/rule-rows.js';

interface HeadRow {
  latest: number;
  deleted_at: number | null;
}

export class SqliteRuleStore implements RuleStore {
  private readonly stmt: {
    head: Database.Statement<[string, string], HeadRow>;
    version: Database.Statement<[string, string, number], RuleVersionRow>;
    versions: Database.Statement<[string, string], RuleVersionRow>;
    list: Database.Statement<[string], RuleVersionRow>;
    insertVersion: Database.Statement<[string, string, number, string, number]>;
    upsertHead: Database.Statement<[string, string, number]>;
    markDeleted: Database.Statement<[number, string, string]>;
  };
  private readonly putTx: (workspace: string, id: string, text: string, at: number) => RulePutResult;

  constructor(db: Database.Database, tables: VersionedDocumentTables = RULE_TABLES) {
    const cols = 'workspace, id, version, definition, created_at';
    const { head: headTable, versions: versionTable } = tables;
    this.stmt = {
      head: db.prepare(`SELECT latest, deleted_at FROM ${headTable} WHERE workspace = ? AND id = ?`),
      version: db.prepare(
        `SELECT ${cols} FROM ${versionTable} WHERE workspace = ? AND id = ? AND version = ?`,
      ),
      versions: db.prepare(
        `SELECT ${cols} FROM ${versionTable} WHERE workspace = ? AND id = ? ORDER BY version`,
      ),
      list: db.prepare(
        `SELECT v.workspace, v.id, v.version, v.definition, v.created_at FROM ${headTable} r
         JOIN ${versionTable} v ON v.workspace = r.workspace AND v.id = r.id AND v.version = r.latest
         WHERE r.workspace = ? AND r.deleted_at IS NULL ORDER BY r.id`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO ${versionTable} (workspace, id, version, definition, created_at) VALUES (?, ?, ?, ?, ?)`,
      ),
      upsertHead: db.prepare(
        `INSERT INTO ${headTable} (workspace, id, latest, deleted_at) VALUES (?, ?, ?, NULL)
         ON CONFLICT (workspace, id) DO UPDATE SET latest = excluded.latest, deleted_at = NULL`,
      ),
      markDeleted: db.prepare(
        `UPDATE ${headTable} SET deleted_at = ? WHERE workspace = ? AND id = ? AND deleted_at IS NULL`,
      ),
    };
    this.putTx = db.transaction((workspace: string, id: string, text: string, at: number): RulePutResult => {
      const head = this.stmt.head.get(workspace, id);
      if (head) {
        const last = this.stmt.version.get(workspace, id, head.latest);
        if (last && last.definition === text) {
          if (head.deleted_at === null) return { rule: ruleFromRow(last), outcome: 'unchanged' };
          this.stmt.upsertHead.run(workspace, id, head.latest);
          return { rule: ruleFromRow(last), outcome: 'created' };
        }
      }
      const version = (head?.latest ?? 0) + 1;
      this.stmt.insertVersion.run(workspace, id, version, text, at);
      this.stmt.upsertHead.run(workspace, id, version);
      return {
        rule: ruleFromRow({ workspace, id, version, definition: text, created_at: at }),
        outcome: !head || head.deleted_at !== null ? 'created' : 'updated',
      };
    });
  }

  async put(
    workspace: string,
    id: string,
    definition: Record<string, unknown>,
    at = Date.now(),
  ): Promise<RulePutResult> {
    const text = canonicalJson(definition);
    try {
      return this.putTx(workspace, id, text, at);
    } catch (e) {
      throw storageError('Cannot store a rule', e);
    }
  }

  async get(workspace: string, id: string, version?: number): Promise<StoredRule | undefined> {
    try {
      if (version === undefined) {
        const head = this.stmt.head.get(workspace, id);
        if (!head || head.deleted_at !== null) return undefined;
        version = head.latest;
      }
      const row = this.stmt.version.get(workspace, id, version);
      return row && ruleFromRow(row);
    } catch (e) {
      throw storageError('Cannot read a rule', e);
    }
  }

  async list(workspace: string): Promise<StoredRule[]> {
    try {
      return this.stmt.list.all(workspace).map(ruleFromRow);
    } catch (e) {
      throw storageError('Cannot read rules', e);
    }
  }

  async versions(workspace: string, id: string): Promise<StoredRule[]> {
    try {
      return this.stmt.versions.all(workspace, id).map(ruleFromRow);
    } catch (e) {
      throw storageError('Cannot read rule versions', e);
    }
  }

  async delete(workspace: string, id: string, at = Date.now()): Promise<boolean> {
    try {
      return this.stmt.markDeleted.run(at, workspace, id).changes > 0;
    } catch (e) {
      throw storageError('Cannot delete a rule', e);
    }
  }
}
