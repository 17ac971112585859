/**
 * Rule store port: rule documents (docs/rules.md), versioned. A put whose definition differs from the
 * latest version stores a new version (1, 2, ...); the same definition again changes nothing. A
 * delete hides the rule from list/get-latest but keeps every version (alarms name the version that
 * raised them); a later put continues the numbering. Definitions are compared as canonical JSON
 * (keys sorted). Every adapter passes rule-store.contract.ts. Storage failures reject with
 * TwinloopError('StorageError').
 */

/** One version of a rule. */
export interface StoredRule {
  workspace: string;
  id: string;
  version: number;
  /** The rule document as plain JSON (already checked by the caller). */
  definition: Record<string, unknown>;
  /** When this version was stored, ms since epoch. */
  createdAt: number;
}

export interface RulePutResult {
  rule: StoredRule;
  /** created: first version or put after a delete; updated: a new version; unchanged: same definition. */
  outcome: 'created' | 'updated' | 'unchanged';
}

export interface RuleStore {
  /** Stores a definition under id. @throws BadRequest (a NUL where the store cannot keep one); StorageError */
  put(
    workspace: string,
    id: string,
    definition: Record<string, unknown>,
    at?: number,
  ): Promise<RulePutResult>;
  /** The latest version (undefined when absent or deleted), or a given version (deleted rules too). */
  get(workspace: string, id: string, version?: number): Promise<StoredRule | undefined>;
  /** The latest version of every rule not deleted, by id. @throws StorageError */
  list(workspace: string): Promise<StoredRule[]>;
  /** Every version of a rule, oldest first (empty when it never existed). @throws StorageError */
  versions(workspace: string, id: string): Promise<StoredRule[]>;
  /** Deletes a rule, keeping its versions; false when absent or deleted already. @throws StorageError */
  delete(workspace: string, id: string, at?: number): Promise<boolean>;
}

/**
 * The tables a versioned-document store uses: rules (RULE_TABLES) and scene bindings
 * (SCENE_TABLES, docs/scenes.md) are kept by the same adapters in their own tables, so a scene
 * binding is versioned, deleted and listed exactly like a rule. Fixed names from this module only
 * (they are written into SQL).
 */
export interface VersionedDocumentTables {
  head: 'rules' | 'scenes';
  versions: 'rule_versions' | 'scene_versions';
}
export const RULE_TABLES: VersionedDocumentTables = { head: 'rules', versions: 'rule_versions' };
export const SCENE_TABLES: VersionedDocumentTables = { head: 'scenes', versions: 'scene_versions' };

/** JSON with object keys sorted at every level: equal definitions give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort())
      Object.defineProperty(out, k, {
        value: (v as Record<string, unknown>)[k],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  });
}
