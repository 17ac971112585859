/**
 * RuleStore on PostgreSQL: a head row per rule and one row per version with its canonical JSON
 * (text, so that comparison is exact). A put locks the head row (or inserts it) in one transaction,
 * so concurrent puts from several nodes never take the same version. A NUL anywhere in the id or
 * the definition is refused (PostgreSQL text cannot hold one); lookups by such an id find nothing.
 * The same store keeps scene bindings in their own tables (PG_SCENE_MIGRATIONS).
 */
import type {
  RulePutResult,
  RuleStore,
  StoredRule,
  VersionedDocumentTables,
} from '../../core/ports/rule-store.js';
import { RULE_TABLES } from '../../core/ports/rule-store.js';
import { canonicalJson } from '../../core/ports/rule-store.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { anyNul, refuseNul } from './pg-text.js';
import { ruleFromRow, type RuleVersionRow } from '../sql/rule-rows.js';

export const PG_RULE_MIGRATIONS: PgComponentMigrations = {
  component: 'rules',
  migrations: [
    {
      version: 1,
      name: 'versioned rule documents',
      sql: `
        CREATE TABLE rules (
          workspace text NOT NULL,
          id text NOT NULL,
          latest integer NOT NULL,
          deleted_at bigint,
          PRIMARY KEY (workspace, id)
        );
        CREATE TABLE rule_versions (
          workspace text NOT NULL,
          id text NOT NULL,
          version integer NOT NULL,
          definition text NOT NULL,
          created_at bigint NOT NULL,
          PRIMARY KEY (workspace, id, version)
        );
      `,
    },
  ],
};

/** Scene bindings (docs/scenes.md): the rule tables' shape under other names. */
export const PG_SCENE_MIGRATIONS: PgComponentMigrations = {
  component: 'scenes',
  migrations: [
    {
      version: 1,
      name: 'versioned scene bindings',
      sql: `
        CREATE TABLE scenes (
          workspace text NOT NULL,
          id text NOT NULL,
          latest integer NOT NULL,
          deleted_at bigint,
          PRIMARY KEY (workspace, id)
        );
        CREATE TABLE scene_versions (
          workspace text NOT NULL,
          id text NOT NULL,
          version integer NOT NULL,
          definition text NOT NULL,
          created_at bigint NOT NULL,
          PRIMARY KEY (workspace, id, version)
        );
      `,
    },
  ],
};

const COLS = 'workspace, id, version, definition, created_at';

/**
 * @example
 *   const rules = new PgRuleStore(db);
 *   (await rules.put('default', 'vib', definition)).rule.version; // 1
 */
export class PgRuleStore implements RuleStore {
  private readonly head: string;
  private readonly versionsTable: string;
  constructor(
    private readonly db: PgDatabase,
    tables: VersionedDocumentTables = RULE_TABLES,
  ) {
    this.head = tables.head;
    this.versionsTable = tables.versions;
  }

  /** @throws BadRequest when the id or definition holds a NUL; StorageError */
  async put(
    workspace: string,
    id: string,
    definition: Record<string, unknown>,
    at = Date.now(),
  ): Promise<RulePutResult> {
    refuseNul('a rule', { workspace, id, definition });
    const text = canonicalJson(definition);
    return this.db.transaction(async (c) => {
      await c.query(
        `INSERT INTO ${this.head} (workspace, id, latest, deleted_at) VALUES ($1, $2, 0, NULL) ON CONFLICT DO NOTHING`,
        [workspace, id],
      );
      const head = (
        await c.query<{ latest: number; deleted_at: number | null }>(
          `SELECT latest, deleted_at FROM ${this.head} WHERE workspace = $1 AND id = $2 FOR UPDATE`,
          [workspace, id],
        )
      ).rows[0]!;
      const fresh = head.latest === 0;
      if (!fresh) {
        const last = (
          await c.query<RuleVersionRow>(
            `SELECT ${COLS} FROM ${this.versionsTable} WHERE workspace = $1 AND id = $2 AND version = $3`,
            [workspace, id, head.latest],
          )
        ).rows[0];
        if (last && last.definition === text) {
          if (head.deleted_at === null) return { rule: ruleFromRow(last), outcome: 'unchanged' as const };
          await c.query(`UPDATE ${this.head} SET deleted_at = NULL WHERE workspace = $1 AND id = $2`, [
            workspace,
            id,
          ]);
          return { rule: ruleFromRow(last), outcome: 'created' as const };
        }
      }
      const version = head.latest + 1;
      await c.query(
        `INSERT INTO ${this.versionsTable} (workspace, id, version, definition, created_at) VALUES ($1, $2, $3, $4, $5)`,
        [workspace, id, version, text, at],
      );
      await c.query(
        `UPDATE ${this.head} SET latest = $3, deleted_at = NULL WHERE workspace = $1 AND id = $2`,
        [workspace, id, version],
      );
      return {
        rule: ruleFromRow({ workspace, id, version, definition: text, created_at: at }),
        outcome: fresh || head.deleted_at !== null ? ('created' as const) : ('updated' as const),
      };
    });
  }

  async get(workspace: string, id: string, version?: number): Promise<StoredRule | undefined> {
    if (anyNul(workspace, id)) return undefined;
    const r =
      version === undefined
        ? await this.db.query<RuleVersionRow>(
            `SELECT v.workspace, v.id, v.version, v.definition, v.created_at FROM ${this.head} r
             JOIN ${this.versionsTable} v ON v.workspace = r.workspace AND v.id = r.id AND v.version = r.latest
             WHERE r.workspace = $1 AND r.id = $2 AND r.deleted_at IS NULL`,
            [workspace, id],
          )
        : await this.db.query<RuleVersionRow>(
            `SELECT ${COLS} FROM ${this.versionsTable} WHERE workspace = $1 AND id = $2 AND version = $3`,
            [workspace, id, version],
          );
    return r.rows[0] && ruleFromRow(r.rows[0]);
  }

  async list(workspace: string): Promise<StoredRule[]> {
    if (anyNul(workspace)) return [];
    const r = await this.db.query<RuleVersionRow>(
      `SELECT v.workspace, v.id, v.version, v.definition, v.created_at FROM ${this.head} r
       JOIN ${this.versionsTable} v ON v.workspace = r.workspace AND v.id = r.id AND v.version = r.latest
       WHERE r.workspace = $1 AND r.deleted_at IS NULL ORDER BY r.id COLLATE "C"`,
      [workspace],
    );
    return r.rows.map(ruleFromRow);
  }

  async versions(workspace: string, id: string): Promise<StoredRule[]> {
    if (anyNul(workspace, id)) return [];
    const r = await this.db.query<RuleVersionRow>(
      `SELECT ${COLS} FROM ${this.versionsTable} WHERE workspace = $1 AND id = $2 ORDER BY version`,
      [workspace, id],
    );
    return r.rows.map(ruleFromRow);
  }

  async delete(workspace: string, id: string, at = Date.now()): Promise<boolean> {
    if (anyNul(workspace, id)) return false;
    const r = await this.db.query(
      `UPDATE ${this.head} SET deleted_at = $3 WHERE workspace = $1 AND id = $2 AND deleted_at IS NULL AND latest > 0`,
      [workspace, id, at],
    );
    return (r.rowCount ?? 0) > 0;
  }
}
