/**
 * Rules of one workspace as the API and pilot files see them: read and checked (every problem at
 * once, ValidationFailed), stored with versions (RuleStore), and handed to whoever evaluates them
 * (`onChange` gets every enabled rule after each change, e.g. RuleEngine.setRules).
 */
import { ANOMALY_RULE_PREFIX } from '../analytics-types.js';
import { errors, TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import type { RuleStore, StoredRule } from '../../core/ports/rule-store.js';
import { readRuleObject, readRuleText, RULE_ID_PATTERN } from './read-rule.js';
import type { ReadRuleResult, RuleModelSchema } from './read-rule.js';
import type { VersionedRule } from './rule-types.js';

export interface RuleServiceOptions {
  workspace: string;
  store: RuleStore;
  /** The names a model offers (checks rules on a model); undefined for an unknown model. */
  schema?: (modelId: string) => RuleModelSchema | undefined;
  /** Told the enabled rules after every change. */
  onChange?: (rules: VersionedRule[]) => void;
}

/** A rule body: parsed JSON, or text with its format. */
export type RuleBody = { value: unknown } | { text: string; format: 'json' | 'yaml'; source?: string };

export class RuleService {
  constructor(private readonly o: RuleServiceOptions) {}

  get workspace(): string {
    return this.o.workspace;
  }

  /** @throws InvalidArgument (a bad id); ValidationFailed (every problem of the document) */
  check(id: string, body: RuleBody): ReadRuleResult & Required<Pick<ReadRuleResult, 'rule' | 'document'>> {
    checkRuleId(id);
    if (id.startsWith(ANOMALY_RULE_PREFIX))
      throw new TwinloopError(
        'InvalidArgument',
        `Rule ids starting with '${ANOMALY_RULE_PREFIX}' are reserved for the anomaly detectors' alarms, not '${id.slice(0, 64)}'.`,
      );
    const options = { id, ...(this.o.schema ? { schema: this.o.schema } : {}) };
    const r =
      'value' in body
        ? readRuleObject(body.value, options)
        : readRuleText(body.text, body.format, {
            ...options,
            ...(body.source ? { source: body.source } : {}),
          });
    if (!r.rule || !r.document) {
      const problems: Problem[] = r.problems.filter((p) => p.severity !== 'warning');
      throw errors.validation('ValidationFailed', `Rule '${id}' is not valid.`, problems);
    }
    return r as ReadRuleResult & Required<Pick<ReadRuleResult, 'rule' | 'document'>>;
  }

  /** Checks and stores a rule; a changed definition is a new version. */
  async put(
    id: string,
    body: RuleBody,
  ): Promise<{ rule: StoredRule; outcome: 'created' | 'updated' | 'unchanged' }> {
    const { document } = this.check(id, body);
    const result = await this.o.store.put(this.o.workspace, id, document);
    if (result.outcome !== 'unchanged') await this.changed();
    return result;
  }

  /** @throws NotFound */
  async get(id: string, version?: number): Promise<StoredRule> {
    checkRuleId(id);
    const r = await this.o.store.get(this.o.workspace, id, version);
    if (!r)
      throw new TwinloopError(
        'NotFound',
        version === undefined ? `There is no rule '${id}'.` : `Rule '${id}' has no version ${version}.`,
      );
    return r;
  }

  list(): Promise<StoredRule[]> {
    return this.o.store.list(this.o.workspace);
  }

  versions(id: string): Promise<StoredRule[]> {
    checkRuleId(id);
    return this.o.store.versions(this.o.workspace, id);
  }

  /** @throws NotFound */
  async delete(id: string): Promise<void> {
    checkRuleId(id);
    if (!(await this.o.store.delete(this.o.workspace, id)))
      throw new TwinloopError('NotFound', `There is no rule '${id}'.`);
    await this.changed();
  }

  /** A stored rule as the engine takes it (stored documents were checked when put). */
  compiled(r: StoredRule): VersionedRule {
    const read = readRuleObject(r.definition, { id: r.id });
    if (!read.rule)
      throw errors.validation(
        'ValidationFailed',
        `Stored rule '${r.id}' version ${r.version} no longer reads.`,
        read.problems,
      );
    return { spec: read.rule, version: r.version };
  }

  /** Every enabled rule, compiled (a stored rule that no longer reads is left out). */
  async enabled(): Promise<VersionedRule[]> {
    const out: VersionedRule[] = [];
    for (const r of await this.list()) {
      try {
        const v = this.compiled(r);
        if (v.spec.enabled) out.push(v);
      } catch {
        // Only possible if the rule format became stricter since it was stored; GET still shows it.
      }
    }
    return out;
  }

  /**
   * Loads rule files (a pilot's `rules/*.yaml`): each is checked and put under its file's `id`.
   * @throws ValidationFailed with every problem of every file (nothing is stored then).
   */
  async loadFiles(files: readonly { source: string; text: string }[]): Promise<number> {
    const problems: Problem[] = [];
    const good: { id: string; document: Record<string, unknown> }[] = [];
    for (const f of files) {
      const r = readRuleText(f.text, /\.json$/i.test(f.source) ? 'json' : 'yaml', {
        source: f.source,
        ...(this.o.schema ? { schema: this.o.schema } : {}),
      });
      if (r.rule && r.document) good.push({ id: r.rule.id, document: r.document });
      else problems.push(...r.problems.filter((p) => p.severity !== 'warning'));
    }
    if (problems.length) throw errors.validation('ValidationFailed', 'Rule files are not valid.', problems);
    for (const g of good) await this.o.store.put(this.o.workspace, g.id, g.document);
    await this.changed();
    return good.length;
  }

  private async changed(): Promise<void> {
    if (this.o.onChange) this.o.onChange(await this.enabled());
  }
}

function checkRuleId(id: string): void {
  if (!RULE_ID_PATTERN.test(id))
    throw new TwinloopError(
      'InvalidArgument',
      `A rule id is 1 to 128 letters, digits and _ . : - (starting with a letter or digit), not '${id.slice(0, 64)}'.`,
    );
}
