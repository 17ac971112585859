/**
 * Hints for a query that found nothing because it reads a telemetry through a plain path. A path
 * reads the twin's properties only, as in ADT (`P.vibration` is undefined when `vibration` is a
 * Telemetry of the model), so such a query answers with no rows and no error — ADT's answer. The
 * hint names the `$telemetry` form that reads the latest reading instead. The answer itself never
 * changes: the CLI prints hints beside it (stderr), the HTTP API keeps ADT's response shape.
 */
import type { Expr, QueryAst } from './query-ast.js';
import { parseQuery } from './query-parser.js';

/** Paths of an expression tree (WHERE, SELECT items). */
function pathsOf(e: Expr | undefined, into: (Expr & { kind: 'path' })[]): void {
  if (e === undefined) return;
  switch (e.kind) {
    case 'path':
      into.push(e);
      break;
    case 'compare':
    case 'and':
    case 'or':
      pathsOf(e.left, into);
      pathsOf(e.right, into);
      break;
    case 'not':
    case 'in':
      pathsOf(e.operand, into);
      break;
    case 'call':
      for (const a of e.args) pathsOf(a, into);
      break;
    default:
      break;
  }
}

function twinAliases(ast: QueryAst): { twins: Set<string>; rels: Set<string> } {
  const twins = new Set<string>();
  const rels = new Set<string>();
  if (ast.from.alias !== undefined) (ast.from.kind === 'twins' ? twins : rels).add(ast.from.alias);
  for (const j of ast.joins) {
    twins.add(j.alias);
    if (j.relAlias !== undefined) rels.add(j.relAlias);
  }
  for (const n of ast.match?.nodes ?? []) twins.add(n.name);
  for (const e of ast.match?.edges ?? []) if (e.relAlias !== undefined) rels.add(e.relAlias);
  return { twins, rels };
}

/**
 * One hint per distinct plain path of the query whose property name is one of `telemetryNames`
 * (telemetry names of the workspace's models). Unparsable text gives no hint (the query's own
 * error says what is wrong).
 * @example telemetryPathHints("SELECT P FROM DIGITALTWINS P WHERE P.vibration > 7", new Set(['vibration']))
 * // ["'P.vibration' reads a property, and vibration is a telemetry: its latest reading is P.$telemetry.vibration"]
 */
export function telemetryPathHints(text: string, telemetryNames: ReadonlySet<string>): string[] {
  let ast: QueryAst;
  try {
    ast = parseQuery(text);
  } catch {
    return [];
  }
  if (ast.from.kind !== 'twins') return [];
  const { twins, rels } = twinAliases(ast);
  const paths: (Expr & { kind: 'path' })[] = [];
  pathsOf(ast.where, paths);
  if (ast.select.kind === 'items') for (const item of ast.select.items) paths.push(item.expr);
  const hints = new Map<string, string>();
  for (const p of paths) {
    const [first, ...rest] = p.segments;
    if (first === undefined || rels.has(first)) continue;
    const aliased = twins.has(first);
    const field = aliased ? rest : p.segments;
    const name = field[0];
    if (name === undefined || name.startsWith('$') || !telemetryNames.has(name)) continue;
    const written = p.segments.join('.');
    const prefix = aliased ? `${first}.` : '';
    hints.set(
      written,
      `'${written}' reads a property, and ${name} is a telemetry: its latest reading is ${prefix}$telemetry.${field.join('.')}`,
    );
  }
  return [...hints.values()];
}
