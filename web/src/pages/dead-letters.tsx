/**
 * Dead letters: rejected input, newest first, paged backwards (`before`), filtered by source and
 * twin; each with its reason, every problem with where it is, where it came from, and the raw
 * payload shown as text (payload-view.ts). Re-ingest runs a letter through the ingest path again
 * once its cause is fixed (POST /deadletters/{id}/reingest: at most once, the server takes it).
 */
import { useEffect, useState } from 'react';
import type { DeadLetterJson, Page, ReingestResult } from '../api/types.js';
import { useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { formatAge } from '../lib/format.js';
import { payloadView } from '../lib/payload-view.js';
import { routeHref, twinHref } from '../lib/routes.js';

const SOURCES = ['', 'mqtt', 'http', 'http-bulk', 'file', 'sim'];
const PAGE = 25;

type Outcome = { id: number; result: ReingestResult } | { id: number; error: Error };

export function DeadLetters(props: { source?: string | undefined; twin?: string | undefined }) {
  const { api } = useApp();
  const [source, setSource] = useState(props.source ?? '');
  const [twin, setTwin] = useState(props.twin ?? '');
  const [twinFilter, setTwinFilter] = useState(props.twin ?? '');
  /** The `before` of each page shown so far (undefined: the newest). */
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const before = cursors[cursors.length - 1];
  const [busy, setBusy] = useState<number | undefined>();
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [now, setNow] = useState(Date.now());

  const page = usePoll(
    () => {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (before !== undefined) q.set('before', String(before));
      if (source) q.set('source', source);
      if (twinFilter) q.set('twinId', twinFilter);
      return api.get<Page<DeadLetterJson>>(`/deadletters?${q}`);
    },
    before === undefined ? 15_000 : 0,
    [before, source, twinFilter],
  );

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  // The filters live in the URL (a link to a filtered list works).
  useEffect(() => {
    const href = routeHref({
      page: 'deadletters',
      ...(source ? { source } : {}),
      ...(twinFilter ? { twin: twinFilter } : {}),
    });
    if (href !== location.pathname + location.search) history.replaceState(null, '', href);
    setCursors([undefined]);
  }, [source, twinFilter]);

  const reingest = async (id: number) => {
    setBusy(id);
    setOutcome(undefined);
    try {
      const result = await api.post<ReingestResult>(`/deadletters/${id}/reingest`, undefined);
      setOutcome({ id, result });
    } catch (e) {
      setOutcome({ id, error: e as Error });
    } finally {
      setBusy(undefined);
      page.reload();
    }
  };

  const nextBefore = (() => {
    const link = page.data?.nextLink;
    if (!link) return undefined;
    const b = new URL(link, location.href).searchParams.get('before');
    return b && /^\d+$/.test(b) ? Number(b) : undefined;
  })();

  return (
    <>
      <h1>Dead letters</h1>
      <p className="muted">
        Input Twinloop refused, kept with the reason. Fix the cause (create the twin, correct the model), then
        re-ingest.
      </p>
      <form
        className="row filters"
        aria-label="Filter dead letters"
        onSubmit={(e) => {
          e.preventDefault();
          setTwinFilter(twin.trim());
        }}
      >
        <label>
          Source{' '}
          <select value={source} onChange={(e) => setSource(e.target.value)}>
            {SOURCES.map((s) => (
              <option key={s} value={s}>
                {s || 'Any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Twin{' '}
          <input
            value={twin}
            onChange={(e) => setTwin(e.target.value)}
            onBlur={() => setTwinFilter(twin.trim())}
            placeholder="pump-3a"
          />
        </label>
        <button type="submit">Filter</button>
        {page.data?.total !== undefined && <span className="muted">{page.data.total} kept in all</span>}
      </form>
      {outcome && <OutcomeBox outcome={outcome} />}
      {page.error && <ErrorBox error={page.error} title="Dead letters could not be read" />}
      {page.data && page.data.value.length === 0 && (
        <p className="muted">
          {before === undefined
            ? 'No dead letter matches: every input was accepted.'
            : 'No older dead letters.'}
        </p>
      )}
      <ol className="letters" aria-label="Dead letters">
        {page.data?.value.map((d) => (
          <Letter key={d.id} d={d} now={now} busy={busy === d.id} onReingest={() => void reingest(d.id)} />
        ))}
      </ol>
      <div className="row">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          disabled={nextBefore === undefined}
          onClick={() => nextBefore !== undefined && setCursors((c) => [...c, nextBefore])}
        >
          Older
        </button>
      </div>
    </>
  );
}

function OutcomeBox({ outcome }: { outcome: Outcome }) {
  if ('error' in outcome)
    return <ErrorBox error={outcome.error} title={`Dead letter ${outcome.id} was not re-ingested`} />;
  const r = outcome.result;
  if (r.outcome === 'accepted')
    return (
      <p className="notice ok" role="status">
        Dead letter {r.id} re-ingested: {r.readings} reading{r.readings === 1 ? '' : 's'} stored
        {r.deadLettered ? `; ${r.deadLettered} value(s) refused again, kept as a new dead letter` : ''}.
      </p>
    );
  return (
    <div className="notice warn" role="status">
      Dead letter {r.id} was refused again and is kept as a new dead letter:{' '}
      <span className="code">{r.code}</span> {r.reason}
      {r.problems.length > 0 && (
        <ul>
          {r.problems.map((p, i) => (
            <li key={i}>
              {p.pointer !== undefined && <code>{p.pointer || '/'}</code>} {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Letter(props: { d: DeadLetterJson; now: number; busy: boolean; onReingest: () => void }) {
  const { d } = props;
  const view = payloadView(d);
  const truncated = d.payloadTruncated === true || d.code === 'PayloadTooLarge';
  return (
    <li className="letter" aria-label={`Dead letter ${d.id}`}>
      <div className="row spread">
        <div>
          <span className="code">{d.code}</span> <strong>{d.reason}</strong>
        </div>
        <span className="muted small" title={d.time}>
          #{d.id} · {formatAge(Date.parse(d.time), props.now)}
        </span>
      </div>
      <dl className="meta">
        <dt>Source</dt>
        <dd>
          {d.source}
          {d.topic !== undefined && (
            <>
              {' '}
              <code>{d.topic}</code>
            </>
          )}
        </dd>
        {d.clientId !== undefined && (
          <>
            <dt>Client</dt>
            <dd>
              <code>{d.clientId}</code>
            </dd>
          </>
        )}
        {d.twinId !== undefined && (
          <>
            <dt>Twin</dt>
            <dd>
              <Link href={twinHref(d.twinId)}>{d.twinId}</Link>
            </dd>
          </>
        )}
        <dt>Received</dt>
        <dd>{new Date(d.time).toLocaleString()}</dd>
      </dl>
      {d.problems.length > 0 && (
        <ul className="problems" aria-label={`Problems of dead letter ${d.id}`}>
          {d.problems.map((p, i) => (
            <li key={i}>
              {p.line !== undefined && (
                <span className="muted">
                  line {p.line}
                  {p.column !== undefined ? `, column ${p.column}` : ''}:{' '}
                </span>
              )}
              {p.pointer !== undefined && (
                <>
                  <code>{p.pointer || '/'}</code>{' '}
                </>
              )}
              {p.message}
            </li>
          ))}
        </ul>
      )}
      <pre className="payload" aria-label={`Payload of dead letter ${d.id}`}>
        {view.text}
      </pre>
      {view.note && <p className="muted small">{view.note}</p>}
      {view.hex && (
        <p className="small">
          <span className="muted">Bytes: </span>
          <code>{view.hex}</code>
        </p>
      )}
      <div className="row">
        <button
          type="button"
          disabled={props.busy || truncated}
          aria-label={`Re-ingest dead letter ${d.id}`}
          onClick={props.onReingest}
        >
          {props.busy ? 'Re-ingesting…' : 'Re-ingest'}
        </button>
        {truncated && (
          <span className="muted small">
            Only the head of this payload was kept: it cannot be re-ingested.
          </span>
        )}
      </div>
    </li>
  );
}
