/** Rule version rows as SQLite and PostgreSQL return them, and their mapping to StoredRule. */
import type { StoredRule } from '../../core/ports/rule-store.js';

export interface RuleVersionRow {
  workspace: string;
  id: string;
  version: number;
  /** Canonical JSON text (SQLite) or the parsed jsonb (PostgreSQL returns it as text here). */
  definition: string;
  created_at: number;
}

export function ruleFromRow(r: RuleVersionRow): StoredRule {
  return {
    workspace: r.workspace,
    id: r.id,
    version: Number(r.version),
    definition: JSON.parse(r.definition) as Record<string, unknown>,
    createdAt: Number(r.created_at),
  };
}
