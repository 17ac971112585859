/**
 * The twin explorer: a query box (ADT's language, examples, the error shown where the query is
 * wrong), a search by id and by model, the results as a table, and the relationship graph of the
 * twins found, walked by clicking (a click adds the twin's neighbours; a double click opens it).
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { API_VERSION, ApiError } from '../api/client.js';
import type { QueryPage, RelationshipJson } from '../api/types.js';
import { useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { GraphView } from '../components/graph-view.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { formatValue } from '../lib/format.js';
import { graphElements, twinsInRows, type GraphRelationship, type GraphTwin } from '../lib/graph.js';
import { caretAt, EXAMPLE_QUERIES, relationshipsQuery, searchQuery } from '../lib/query-text.js';
import { resultCell, resultColumns } from '../lib/result-table.js';
import { routeHref, twinHref } from '../lib/routes.js';

const PAGE = 200;
const GRAPH_MAX_TWINS = 300;

interface ModelItem {
  id: string;
}

function relOf(r: Record<string, unknown>): GraphRelationship | undefined {
  const x = r as Partial<RelationshipJson>;
  return typeof x.$sourceId === 'string' &&
    typeof x.$targetId === 'string' &&
    typeof x.$relationshipId === 'string'
    ? {
        id: x.$relationshipId,
        source: x.$sourceId,
        target: x.$targetId,
        name: String(x.$relationshipName ?? ''),
      }
    : undefined;
}

export function Explorer({ initialQuery }: { initialQuery?: string | undefined }) {
  const { api, navigate } = useApp();
  const [text, setText] = useState(initialQuery ?? EXAMPLE_QUERIES[0]!.query);
  const [rows, setRows] = useState<Record<string, unknown>[] | undefined>();
  const [more, setMore] = useState<string | null>(null);
  const [error, setError] = useState<Error | undefined>();
  const [running, setRunning] = useState(false);
  const [ran, setRan] = useState<string | undefined>();
  const [searchId, setSearchId] = useState('');
  const [searchModel, setSearchModel] = useState('');
  const [graphTwins, setGraphTwins] = useState<GraphTwin[]>([]);
  const [graphRels, setGraphRels] = useState<GraphRelationship[]>([]);
  const [selected, setSelected] = useState<string | undefined>();

  const models = usePoll(
    () => api.get<{ value: ModelItem[] }>(`/models?api-version=${API_VERSION}`).then((r) => r.value),
    0,
  );

  const loadRelationships = useCallback(
    async (ids: readonly string[]): Promise<GraphRelationship[]> => {
      if (ids.length === 0) return [];
      const page = await api.post<QueryPage>(
        `/query?api-version=${API_VERSION}`,
        { query: relationshipsQuery(ids) },
        {
          'max-items-per-page': '2000',
        },
      );
      return page.value.map(relOf).filter((r) => r !== undefined);
    },
    [api],
  );

  const run = useCallback(
    async (query: string) => {
      setRunning(true);
      setError(undefined);
      setSelected(undefined);
      try {
        const page = await api.post<QueryPage>(
          `/query?api-version=${API_VERSION}`,
          { query },
          {
            'max-items-per-page': String(PAGE),
          },
        );
        setRows(page.value);
        setMore(page.continuationToken);
        setRan(query);
        const twins = twinsInRows(page.value).slice(0, GRAPH_MAX_TWINS);
        setGraphTwins(twins);
        setGraphRels([]);
        setGraphRels(await loadRelationships(twins.map((t) => t.id)));
      } catch (e) {
        setError(e as Error);
        setRan(query);
        // No results are shown beside an error: they would be the last query's, not this one's.
        setRows(undefined);
        setMore(null);
        setGraphTwins([]);
        setGraphRels([]);
      } finally {
        setRunning(false);
      }
    },
    [api, loadRelationships],
  );

  useEffect(() => {
    void run(text);
    // Runs the query the page was opened with, once.
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    history.replaceState(null, '', routeHref({ page: 'explorer', query: text }));
    void run(text);
  };

  const search = (e: FormEvent) => {
    e.preventDefault();
    const q = searchQuery(searchId, searchModel);
    setText(q);
    history.replaceState(null, '', routeHref({ page: 'explorer', query: q }));
    void run(q);
  };

  const loadMore = async () => {
    if (!more) return;
    try {
      const page = await api.post<QueryPage>(`/query?api-version=${API_VERSION}`, {
        continuationToken: more,
      });
      setRows((r) => [...(r ?? []), ...page.value]);
      setMore(page.continuationToken);
    } catch (e) {
      setError(e as Error);
    }
  };

  const walk = async (id: string) => {
    setSelected(id);
    try {
      const rels = await loadRelationships([id]);
      setGraphRels((old) => [...old, ...rels]);
    } catch (e) {
      setError(e as Error);
    }
  };

  const elements = useMemo(() => graphElements(graphTwins, graphRels), [graphTwins, graphRels]);
  // The graph's twins as a list too: the canvas cannot be reached from the keyboard.
  const graphNodeIds = useMemo(
    () =>
      elements
        .filter((e) => e.group === 'nodes')
        .map((e) => e.data['twinId']!)
        .sort((a, b) => a.localeCompare(b)),
    [elements],
  );
  const columns = useMemo(() => resultColumns(rows ?? []), [rows]);
  const apiError = error instanceof ApiError ? error : undefined;
  const where = apiError?.problems.find((p) => p.line !== undefined);
  const caret = where && ran !== undefined ? caretAt(ran, where.line!, where.column ?? 1) : undefined;

  return (
    <>
      <h1>Twin explorer</h1>
      <form className="query" onSubmit={submit} aria-label="Query">
        <label htmlFor="query-text">Query (ADT query language)</label>
        <textarea
          id="query-text"
          value={text}
          rows={3}
          spellCheck={false}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
          }}
        />
        <div className="row">
          <button type="submit" disabled={running}>
            {running ? 'Running…' : 'Run query'}
          </button>
          <label>
            <span className="sr-only">Example queries</span>
            <select
              aria-label="Example queries"
              value=""
              onChange={(e) => {
                if (e.target.value) setText(e.target.value);
              }}
            >
              <option value="">Examples…</option>
              {EXAMPLE_QUERIES.map((q) => (
                <option key={q.label} value={q.query}>
                  {q.label}
                </option>
              ))}
            </select>
          </label>
          <span className="muted">Ctrl+Enter runs it</span>
        </div>
      </form>
      <form className="search row" onSubmit={search} aria-label="Search twins">
        <label>
          Twin id contains{' '}
          <input value={searchId} onChange={(e) => setSearchId(e.target.value)} placeholder="pump-1" />
        </label>
        <label>
          Model{' '}
          <select value={searchModel} onChange={(e) => setSearchModel(e.target.value)}>
            <option value="">Any model</option>
            {(models.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>

      {error && (
        <div>
          <ErrorBox error={error} title="The query failed" />
          {caret && (
            <pre className="caret" aria-label="Where the query is wrong">
              {caret.line}
              {'\n'}
              {caret.caret}
            </pre>
          )}
        </div>
      )}

      <div className="explore">
        <section aria-labelledby="results-title" className="results">
          <h2 id="results-title">
            Results{' '}
            {rows && (
              <span className="muted">
                ({rows.length}
                {more ? '+' : ''})
              </span>
            )}
          </h2>
          {rows && rows.length === 0 && <p className="muted">The query found nothing.</p>}
          {rows && rows.length > 0 && (
            <div className="scroll">
              <table className="grid" aria-label="Query results">
                <thead>
                  <tr>
                    {columns.map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r, i) => (
                    <tr key={i}>
                      {columns.map((c) => (
                        <td key={c}>
                          <Cell column={c} value={resultCell(r, c)} />
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {more && (
            <button type="button" onClick={() => void loadMore()}>
              Load more
            </button>
          )}
        </section>
        <section aria-labelledby="graph-title" className="graph-panel">
          <h2 id="graph-title">Relationship graph</h2>
          <GraphView
            elements={elements}
            selected={selected}
            onSelect={(id) => void walk(id)}
            onOpen={(id) => navigate(twinHref(id))}
            label={`Relationship graph: ${graphTwins.length} twins`}
          />
          <label className="row">
            Walk from{' '}
            <select
              value={selected ?? ''}
              onChange={(e) => {
                if (e.target.value) void walk(e.target.value);
              }}
            >
              <option value="">a twin of the graph…</option>
              {graphNodeIds.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </label>
          <p className="muted" aria-live="polite">
            {selected ? (
              <>
                Selected <Link href={twinHref(selected)}>{selected}</Link>: its neighbours are shown. Open it
                with a double click.
              </>
            ) : (
              'Click a twin to walk to its neighbours; double click to open it.'
            )}
          </p>
        </section>
      </div>
    </>
  );
}

function Cell({ column, value }: { column: string; value: unknown }) {
  if (column === '$dtId' && typeof value === 'string') return <Link href={twinHref(value)}>{value}</Link>;
  if (value && typeof value === 'object' && typeof (value as { $dtId?: unknown }).$dtId === 'string') {
    const id = (value as { $dtId: string }).$dtId;
    return <Link href={twinHref(id)}>{id}</Link>;
  }
  const text = formatValue(value);
  return (
    <span title={text.length > 80 ? text : undefined}>
      {text.length > 80 ? `${text.slice(0, 80)}…` : text}
    </span>
  );
}
