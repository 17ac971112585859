/** Rules: documents (JSON/YAML) read and checked, and the streaming engine that raises and clears alarms. */
export { readRuleObject, readRuleText, RULE_ID_PATTERN } from './read-rule.js';
export type { ReadRuleOptions, ReadRuleResult, RuleModelSchema } from './read-rule.js';
export { MAX_RULE_DOCUMENT_CHARS, MAX_RULE_DOCUMENT_DEPTH } from './rule-document.js';
export { formatDuration, parseDuration } from './rule-duration.js';
export { RuleEngine } from './rule-engine.js';
export type { RuleEngineOptions, RuleEngineStats, RuleEpisode } from './rule-engine.js';
export { compileRule } from './compile-rule.js';
export type { CompiledRule } from './compile-rule.js';
export type { RuleCondition, RuleSpec, ValueRef, VersionedRule } from './rule-types.js';
