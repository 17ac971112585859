/**
 * Query text the explorer builds from what a user typed (search by id, by model): user text goes
 * into the query only as a quoted string literal, escaped (docs/query.md: `\'`, `\\`, `\n` …), so
 * no input can change the query's shape.
 */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/[\\'\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!)}'`;
}

/** The search as a query: twins whose id contains `id` and/or of `model` (IS_OF_MODEL: extensions included). */
export function searchQuery(id: string, model: string): string {
  const where: string[] = [];
  if (id.trim()) where.push(`CONTAINS(T.$dtId, ${quoteLiteral(id.trim())})`);
  if (model.trim()) where.push(`IS_OF_MODEL(T, ${quoteLiteral(model.trim())})`);
  return `SELECT * FROM DIGITALTWINS T${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
}

/** The relationships of a set of twins, both ways. */
export function relationshipsQuery(ids: readonly string[]): string {
  const list = `[${ids.map(quoteLiteral).join(', ')}]`;
  return `SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId IN ${list} OR R.$targetId IN ${list}`;
}

/** The examples offered beside the query box. */
export const EXAMPLE_QUERIES: readonly { label: string; query: string }[] = [
  { label: 'Every twin', query: 'SELECT * FROM DIGITALTWINS' },
  {
    label: 'Pumps vibrating above 7 (latest reading)',
    query:
      "SELECT P.$dtId, P.$telemetry.vibration FROM DIGITALTWINS P WHERE IS_OF_MODEL(P, 'dtmi:twinloop:pumpline:Pump;1') AND P.$telemetry.vibration > 7",
  },
  {
    label: 'Equipment of line 3',
    query: "SELECT P FROM DIGITALTWINS L JOIN P RELATED L.hasEquipment WHERE L.$dtId = 'line-3'",
  },
  {
    label: 'Everything under a site, any depth',
    query: "SELECT p FROM DIGITALTWINS MATCH (s)-[*1..10]->(p) WHERE s.$dtId = 'site-lyon'",
  },
  { label: 'Count the twins', query: 'SELECT COUNT() FROM DIGITALTWINS' },
];

/** The query's line under a caret at `column` (1-based), for showing where an error is. */
export function caretAt(
  text: string,
  line: number,
  column: number,
): { line: string; caret: string } | undefined {
  const l = text.split('\n')[line - 1];
  if (l === undefined || column < 1) return undefined;
  return { line: l, caret: `${' '.repeat(Math.min(column - 1, l.length))}^` };
}
