/**
 * The scenario reader's toolkit: the behaviour readers' SpecReader (typed access to located YAML
 * nodes, problems instead of throws) plus what scenario files have of their own — times, lists of
 * twin ids, id patterns and generated property values.
 */
import type { LNode, Loc } from '../behaviour/located-document.js';
import { SpecReader } from '../behaviour/spec-reader.js';
import { isEach, unknownPlaceholders } from './asset-pattern.js';
import { parseScenarioTime } from './scenario-time.js';

/** The plain JSON value of a located node. */
export function plain(node: LNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(plain);
  return Object.fromEntries(node.entries.map((e) => [e.key, plain(e.value)]));
}

/** A scenario reader: the behaviour readers' toolkit plus scenario-specific values. */
export class ScenarioReader extends SpecReader {
  /** A time (seconds ≥ 0 or a duration text); undefined with a problem when it is not one. */
  time(node: LNode | undefined, what: string): number | undefined {
    if (node === undefined) return undefined;
    const r = parseScenarioTime(node.kind === 'scalar' ? node.value : undefined);
    if (r.ok) return r.seconds;
    const code =
      r.reason === 'negative'
        ? 'sim.scenario.negativeTime'
        : r.reason === 'unit'
          ? 'sim.scenario.timeUnit'
          : 'sim.scenario.time';
    this.problem(code, `${what} ${r.message}.`, node.loc);
    return undefined;
  }

  /** A string or a non-empty list of strings, each with its location. */
  names(node: LNode | undefined, what: string): { value: string; loc: Loc }[] {
    if (node === undefined) return [];
    if (node.kind === 'scalar') {
      const s = this.str(node, what);
      return s === undefined ? [] : [{ value: s, loc: node.loc }];
    }
    if (node.kind !== 'seq' || node.items.length === 0) {
      this.problem('sim.scenario.type', `${what} must be a string or a non-empty list of strings.`, node.loc);
      return [];
    }
    return node.items.flatMap((i) => {
      const s = this.str(i, what);
      return s === undefined ? [] : [{ value: s, loc: i.loc }];
    });
  }

  /** A pattern of twin ids: only known placeholders. */
  pattern(p: { value: string; loc: Loc }, what: string): void {
    for (const u of unknownPlaceholders(p.value))
      this.problem(
        'sim.scenario.placeholder',
        `${what} has an unknown placeholder ${u}; use {index} or {index:03} (padded to 3 digits).`,
        p.loc,
      );
  }

  /** A mapping of property values (plain JSON; `{ each: [...] }` taken in turn). */
  values(node: LNode | undefined, what: string): Record<string, unknown> {
    if (node === undefined) return {};
    if (node.kind !== 'map') {
      this.problem('sim.scenario.type', `${what} must be a mapping.`, node.loc);
      return {};
    }
    for (const e of node.entries) {
      if (e.key.startsWith('$'))
        this.problem(
          'sim.scenario.invalidValue',
          `${what}: '${e.key}' is set by the generator; give property values only.`,
          e.keyLoc,
        );
      const v = e.value;
      if (v.kind === 'map' && v.entries.length === 1 && v.entries[0]?.key === 'each' && !isEach(plain(v)))
        this.problem(
          'sim.scenario.type',
          `${what}: 'each' must be a non-empty list of values, taken in turn.`,
          v.loc,
        );
    }
    return plain(node) as Record<string, unknown>;
  }
}
