/**
 * A twin: its properties (reported and desired, with their age), its telemetry as charts — live
 * from the WebSocket stream, or any history range read from the aggregate route (a month in a few
 * hundred buckets), zoomed by dragging across a chart and panned with the buttons — its alarms and
 * relationships, and the shown range as CSV.
 */
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { API_VERSION, twinPath } from '../api/client.js';
import type {
  AlarmJson,
  DesiredJson,
  ForecastJson,
  HistoryAggregate,
  IncomingRelationshipJson,
  Page,
  RelationshipJson,
  SeriesList,
  TwinJson,
  SceneSummary,
} from '../api/types.js';
import { ThemeContext, useApp } from '../app-context.js';
import { Chart } from '../components/chart.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { TwinCommands } from '../components/twin-commands.js';
import { TwinRul } from '../components/twin-rul.js';
import { usePoll } from '../components/use-poll.js';
import { toCsv } from '../lib/csv.js';
import { formatAge, formatDuration, formatValue } from '../lib/format.js';
import { modelShortName } from '../lib/graph.js';
import { modelCommands, modelLineage, modelTelemetry } from '../lib/model-telemetry.js';
import { routeHref, sceneHref, twinHref } from '../lib/routes.js';
import { forecastHorizon, overlay } from '../lib/forecast-overlay.js';
import {
  alignSeries,
  bucketValue,
  intervalParam,
  LiveSeries,
  numericReadings,
  pickInterval,
} from '../lib/series.js';
import { connectionOf, propertyRows } from '../lib/twin-props.js';
import { naturalOrder } from '../lib/rul-view.js';

const LIVE_WINDOW_MS = 15 * 60_000;
const MAX_CHARTS = 50;
/** Points a chart keeps at most: beyond, the older half is thinned (a chart is a few hundred pixels wide). */
const LIVE_MAX_POINTS = 4000;

type Mode = { kind: 'live' } | { kind: 'range'; from: number; to: number };

type ForecastState =
  | { state: 'loading' }
  | { state: 'ready'; data: ForecastJson; madeAt: number }
  | { state: 'failed'; message: string };

const PRESETS: { label: string; ms: number }[] = [
  { label: 'Last hour', ms: 3_600_000 },
  { label: 'Last 24 h', ms: 86_400_000 },
  { label: 'Last 7 days', ms: 7 * 86_400_000 },
  { label: 'Last 30 days', ms: 30 * 86_400_000 },
];

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function TwinPage({ id }: { id: string }) {
  const { api, live } = useApp();
  const theme = useContext(ThemeContext);
  const [mode, setMode] = useState<Mode>({ kind: 'live' });
  const [version, setVersion] = useState(0);
  const [rangeError, setRangeError] = useState<Error | undefined>();
  const [liveError, setLiveError] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const series = useRef(new Map<string, LiveSeries>());
  const frame = useRef(0);
  // Forecasts asked for, by series path (GET /digitaltwins/{id}/forecast), drawn over their charts.
  const [forecasts, setForecasts] = useState<ReadonlyMap<string, ForecastState>>(new Map());
  useEffect(() => setForecasts(new Map()), [id]);

  const twin = usePoll(
    async () => {
      const [t, desired] = await Promise.all([
        api.get<TwinJson>(twinPath(id)),
        api.get<DesiredJson>(twinPath(id, '/desired')).catch(() => undefined),
      ]);
      return { twin: t, desired: desired?.desired ?? {} };
    },
    0,
    [id],
  );
  const modelId = twin.data?.twin.$metadata.$model;
  const declared = usePoll(
    async () => {
      if (!modelId) return undefined;
      const q = new URLSearchParams({
        dependenciesFor: modelId,
        includeModelDefinition: 'true',
        'api-version': API_VERSION,
      });
      const r = await api.get<{ value: { id: string; model?: unknown }[] }>(`/models?${q}`);
      const docs = r.value.map((m) => m.model);
      return {
        telemetry: modelTelemetry(modelId, docs),
        commands: modelCommands(modelId, docs),
        lineage: modelLineage(modelId, docs),
      };
    },
    0,
    [modelId],
  );
  const [showDerived, setShowDerived] = useState(false);
  const scenes = usePoll(
    () => api.get<Page<SceneSummary>>(`/scenes?${new URLSearchParams({ twin: id })}`).then((p) => p.value),
    0,
    [id],
  );
  const seriesList = usePoll(() => api.get<SeriesList>(twinPath(id, '/series')), 0, [id]);
  const alarms = usePoll(
    () => api.get<Page<AlarmJson>>(`/alarms?twin=${encodeURIComponent(id)}&limit=50`).then((p) => p.value),
    15_000,
    [id],
  );
  const rels = usePoll(
    async () => {
      const [out, inc] = await Promise.all([
        api.get<Page<RelationshipJson>>(twinPath(id, '/relationships')),
        api.get<Page<IncomingRelationshipJson>>(twinPath(id, '/incomingrelationships')),
      ]);
      return { out: out.value, inc: inc.value };
    },
    0,
    [id],
  );

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);

  const telemetryPaths = useMemo(
    () =>
      (seriesList.data?.value ?? [])
        .filter(
          (s) =>
            s.kind === 'telemetry' && (typeof s.lastValue === 'number' || typeof s.lastValue === 'boolean'),
        )
        .map((s) => s.path)
        .sort(naturalOrder)
        .slice(0, MAX_CHARTS),
    [seriesList.data],
  );
  const [extraPaths, setExtraPaths] = useState<string[]>([]);
  const paths = useMemo(() => [...new Set([...telemetryPaths, ...extraPaths])], [telemetryPaths, extraPaths]);

  const bump = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setVersion((v) => v + 1);
    });
  }, []);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const seriesOf = (path: string, windowMs: number) => {
    let s = series.current.get(path);
    if (!s || s.windowMs !== windowMs) {
      s = new LiveSeries(windowMs, LIVE_MAX_POINTS);
      series.current.set(path, s);
    }
    return s;
  };

  // Device telemetry (declared by the model) first; what the platform derives apart, drawn when opened.
  const declaredSet = declared.data?.telemetry;
  const isDevice = (p: string) => !declaredSet || declaredSet.size === 0 || declaredSet.has(p);
  // Charts on the page: device telemetry (with the shadow model's prediction drawn over it), and
  // what the platform derives once that section is opened.
  const drawn = paths.filter(
    (p) =>
      showDerived || isDevice(p) || (p.endsWith('Predicted') && isDevice(p.slice(0, -'Predicted'.length))),
  );

  // On/off series: drawn from each bucket's last state (booleans have no average).
  const onOff = (seriesList.data?.value ?? [])
    .filter((s) => typeof s.lastValue === 'boolean')
    .map((s) => s.path);

  // History: the live window's start, or the chosen range, as buckets from the aggregate route, for
  // the charts on the page; each chart draws as soon as its own series answers.
  useEffect(() => {
    let alive = true;
    const to = mode.kind === 'live' ? Date.now() : mode.to;
    const from = mode.kind === 'live' ? to - LIVE_WINDOW_MS : mode.from;
    const windowMs = mode.kind === 'live' ? LIVE_WINDOW_MS : Math.max(1, to - from);
    const interval = pickInterval(to - from, mode.kind === 'live' ? 450 : 600);
    if (mode.kind === 'range') series.current.clear();
    setRangeError(undefined);
    void Promise.all(
      drawn.map(async (path) => {
        const q = new URLSearchParams({
          path,
          from: String(Math.floor(from)),
          to: String(Math.ceil(to)),
          interval: intervalParam(interval),
          fn: onOff.includes(path) ? 'last' : 'avg',
        });
        const h = await api.get<HistoryAggregate>(twinPath(id, `/history?${q}`));
        if (!alive) return;
        const xs: number[] = [];
        const ys: (number | null)[] = [];
        for (const b of h.value) {
          xs.push(b.start + interval / 2);
          ys.push(bucketValue(b, onOff.includes(path)));
        }
        // Live: the chart starts where the data does (a twin that just started is not a dot at the right).
        const first =
          mode.kind === 'live'
            ? Math.max(
                0,
                ys.findIndex((y) => y !== null),
              )
            : 0;
        seriesOf(path, windowMs).seed(xs.slice(first), ys.slice(first));
        bump();
      }),
    )
      .catch((e: Error) => alive && setRangeError(e))
      .finally(() => alive && bump());
    return () => {
      alive = false;
    };
  }, [api, id, mode, drawn.join('\n'), onOff.join('\n'), bump]);

  // Live: telemetry appended as it commits; property changes and alarms reload what they change.
  useEffect(() => {
    if (mode.kind !== 'live') return;
    setLiveError(undefined);
    return live.subscribe(
      { twinIds: [id] },
      ['telemetry', 'propertyChange', 'lifecycle', 'alarm', 'device'],
      (events) => {
        let props = false;
        let alarm = false;
        const fresh: string[] = [];
        for (const e of events) {
          if (e.type === 'telemetry') {
            for (const [name, v] of numericReadings(e.values)) {
              const path = e.component ? `${e.component}/${name}` : name;
              if (!series.current.has(path)) fresh.push(path);
              seriesOf(path, LIVE_WINDOW_MS).add(e.time, v);
            }
          } else if (e.type === 'alarm') alarm = true;
          else props = true;
        }
        if (fresh.length) setExtraPaths((old) => [...new Set([...old, ...fresh])]);
        if (props) twin.reload();
        if (alarm) alarms.reload();
        bump();
      },
      (message) => setLiveError(message),
    );
  }, [live, id, mode.kind]);

  const shown = useMemo(
    () =>
      paths.map((path) => {
        const s = series.current.get(path);
        // The series' own arrays (no copy per frame): charts redraw on a new version.
        return { path, xs: s ? s.xs : [], ys: s ? s.ys : [], version: s ? s.version : -1 };
      }),
    [paths, version],
  );

  const deviceCharts = shown.filter((s) => isDevice(s.path));
  const derivedCharts = shown.filter((s) => !isDevice(s.path));

  const zoom = useCallback((from: number, to: number) => {
    if (to - from >= 1000) setMode({ kind: 'range', from, to });
  }, []);
  const pan = (dir: -1 | 1) => {
    if (mode.kind !== 'range') return;
    const w = mode.to - mode.from;
    setMode({ kind: 'range', from: mode.from + (dir * w) / 2, to: mode.to + (dir * w) / 2 });
  };
  const widen = () => {
    const [from, to] =
      mode.kind === 'range' ? [mode.from, mode.to] : [Date.now() - LIVE_WINDOW_MS, Date.now()];
    const w = to - from;
    setMode({ kind: 'range', from: from - w / 2, to: to + w / 2 });
  };

  const exportCsv = () => {
    const { xs, columns } = alignSeries(shown);
    const csv = toCsv(
      shown.map((s) => s.path),
      xs,
      columns,
    );
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${id.replace(/[^\w.-]+/g, '_')}-${mode.kind === 'live' ? 'live' : `${new Date(mode.from).toISOString()}`}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const latest = new Map((seriesList.data?.value ?? []).map((s) => [s.path, s]));
  // Live, but the twin's newest reading is older than the live window (imported history, a device
  // that stopped): say so, and offer the week before it rather than empty charts.
  let newest = -Infinity;
  for (const s of seriesList.data?.value ?? [])
    if (s.kind === 'telemetry') newest = Math.max(newest, Date.parse(s.lastTime));
  const staleLive = mode.kind === 'live' && Number.isFinite(newest) && newest < now - LIVE_WINDOW_MS;

  const byPath = new Map(shown.map((x) => [x.path, x]));

  const toggleForecast = (path: string, horizonMs: number) => {
    const set = (st: ForecastState | undefined) =>
      setForecasts((old) => {
        const next = new Map(old);
        if (st) next.set(path, st);
        else next.delete(path);
        return next;
      });
    if (forecasts.has(path)) return set(undefined);
    set({ state: 'loading' });
    const q = new URLSearchParams({ path, horizon: `${Math.round(horizonMs / 1000)}s` });
    api
      .get<ForecastJson>(twinPath(id, `/forecast?${q}`))
      .then((data) => set({ state: 'ready', data, madeAt: Date.now() }))
      .catch((e: Error) => set({ state: 'failed', message: e.message }));
  };
  const horizon = forecastHorizon(mode, now, LIVE_WINDOW_MS);

  function renderChart(series: { path: string; xs: number[]; ys: (number | null)[]; version: number }) {
    // Shadow mode's prediction of a device telemetry, drawn over it when the twin has one; a
    // forecast when one was asked for.
    const predicted = isDevice(series.path) ? byPath.get(`${series.path}Predicted`) : undefined;
    const fc = forecasts.get(series.path);
    const forecast = fc?.state === 'ready' ? fc.data : undefined;
    const s =
      predicted || forecast ? overlay(series, predicted, forecast) : { ...series, overlays: undefined };
    const last = series.ys.length ? series.ys[series.ys.length - 1] : undefined;
    const info = latest.get(series.path);
    const value = mode.kind === 'live' && last !== undefined && last !== null ? last : info?.lastValue;
    return (
      <figure key={series.path} className="chart-box">
        <figcaption>
          <span className="series-name">
            {series.path}
            {predicted && <span className="legend-predicted"> · dashed grey: predicted (shadow mode)</span>}
            {forecast && (
              <span className="legend-predicted">
                {' '}
                · dashed: forecast {formatDuration(horizon ?? 0)} ahead, shaded: 95 % interval (made{' '}
                {formatAge(fc?.state === 'ready' ? fc.madeAt : now, now)})
              </span>
            )}
          </span>{' '}
          <output className="latest" aria-label={`Latest ${series.path}`}>
            {formatValue(value)}
          </output>{' '}
          {isDevice(series.path) && typeof info?.lastValue === 'number' && (
            <button
              type="button"
              className="small"
              aria-pressed={fc !== undefined}
              aria-label={`Forecast ${series.path}`}
              disabled={horizon === undefined && fc === undefined}
              title={
                horizon === undefined
                  ? 'A forecast starts now: choose a range that ends now'
                  : `Forecast ${formatDuration(horizon)} ahead from the history`
              }
              onClick={() =>
                horizon !== undefined || fc ? toggleForecast(series.path, horizon ?? 0) : undefined
              }
            >
              {fc?.state === 'loading' ? 'Forecasting…' : 'Forecast'}
            </button>
          )}
        </figcaption>
        {fc?.state === 'failed' && (
          <p className="error" role="alert">
            No forecast of {series.path}: {fc.message}
          </p>
        )}
        <Chart
          label={series.path}
          xs={s.xs}
          ys={s.ys}
          dataKey={
            predicted || forecast
              ? `${series.version}:${predicted?.version ?? ''}:${fc?.state === 'ready' ? fc.madeAt : ''}`
              : series.version
          }
          overlays={s.overlays}
          theme={theme}
          onZoom={zoom}
        />
      </figure>
    );
  }

  if (twin.error && !twin.data)
    return <ErrorBox error={twin.error} title={`The twin ${id} could not be loaded`} />;
  const t = twin.data?.twin;
  const rows = t ? propertyRows(t, twin.data?.desired) : [];
  const connection = t ? connectionOf(t) : undefined;

  return (
    <>
      <h1>
        {id}{' '}
        {t && (
          <span className="muted" title={t.$metadata.$model}>
            {modelShortName(t.$metadata.$model)}
          </span>
        )}
      </h1>
      {t && (
        <p className="muted model-id">
          <Link href={routeHref({ page: 'models', id: t.$metadata.$model })}>{t.$metadata.$model}</Link> ·{' '}
          <Link
            href={routeHref({ page: 'simulation', twin: id })}
            aria-label={`What if… (simulate ${id} ahead)`}
          >
            What if…
          </Link>{' '}
          ·{' '}
          <Link href={routeHref({ page: 'deadletters', twin: id })} aria-label={`Dead letters of ${id}`}>
            Dead letters
          </Link>
        </p>
      )}
      {connection && (
        <p className="device-connection" aria-label="Device connection">
          Device <span className={`conn ${connection.state}`}>{connection.state}</span>{' '}
          <span className="muted" title={new Date(connection.since).toISOString()}>
            since {formatAge(connection.since, now)}
          </span>{' '}
          ·{' '}
          <span className="muted" title={new Date(connection.lastSeen).toISOString()}>
            last seen {formatAge(connection.lastSeen, now)}
          </span>
        </p>
      )}
      {scenes.data && scenes.data.length > 0 && (
        <p className="row">
          {scenes.data.map((s) => (
            <Link key={s.id} href={sceneHref(s.id)} className="button-link">
              Show in 3D{scenes.data!.length > 1 ? ` (${s.title})` : ''}
            </Link>
          ))}
        </p>
      )}

      {declared.data && <TwinRul twinId={id} lineage={declared.data.lineage} />}

      <section aria-labelledby="telemetry-title">
        <div className="row spread">
          <h2 id="telemetry-title">Telemetry</h2>
          <div className="row" role="group" aria-label="Time range">
            <button
              type="button"
              aria-pressed={mode.kind === 'live'}
              onClick={() => setMode({ kind: 'live' })}
            >
              Live
            </button>
            {PRESETS.map((p) => (
              <button
                type="button"
                key={p.label}
                onClick={() => {
                  const to = Date.now();
                  setMode({ kind: 'range', from: to - p.ms, to });
                }}
              >
                {p.label}
              </button>
            ))}
            <button
              type="button"
              onClick={() => pan(-1)}
              disabled={mode.kind !== 'range'}
              aria-label="Earlier"
            >
              ◀
            </button>
            <button type="button" onClick={() => pan(1)} disabled={mode.kind !== 'range'} aria-label="Later">
              ▶
            </button>
            <button type="button" onClick={widen} aria-label="Zoom out">
              −
            </button>
            <button type="button" onClick={exportCsv} disabled={shown.length === 0}>
              Export CSV
            </button>
          </div>
        </div>
        {mode.kind === 'range' && (
          <div className="row" role="group" aria-label="Custom range">
            <label>
              From{' '}
              <input
                type="datetime-local"
                value={toLocalInput(mode.from)}
                onChange={(e) => {
                  const v = Date.parse(e.target.value);
                  if (!Number.isNaN(v) && v < mode.to) setMode({ kind: 'range', from: v, to: mode.to });
                }}
              />
            </label>
            <label>
              To{' '}
              <input
                type="datetime-local"
                value={toLocalInput(mode.to)}
                onChange={(e) => {
                  const v = Date.parse(e.target.value);
                  if (!Number.isNaN(v) && v > mode.from) setMode({ kind: 'range', from: mode.from, to: v });
                }}
              />
            </label>
          </div>
        )}
        <p className="muted">
          {mode.kind === 'live'
            ? 'Live: the last 15 minutes, updated as readings arrive. Drag across a chart to zoom into history.'
            : `History from ${new Date(mode.from).toLocaleString()} to ${new Date(mode.to).toLocaleString()}, averaged in ${formatDuration(pickInterval(mode.to - mode.from))} buckets. Drag to zoom.`}
        </p>
        {staleLive && (
          <p className="row" role="status">
            <span>
              No reading in the last 15 minutes: the newest is from {new Date(newest).toLocaleString()} (
              {formatAge(newest, now)}).
            </span>
            <button
              type="button"
              onClick={() => setMode({ kind: 'range', from: newest - 7 * 86_400_000, to: newest + 60_000 })}
            >
              Show the week before it
            </button>
          </p>
        )}
        {rangeError && <ErrorBox error={rangeError} title="History could not be read" />}
        {liveError && (
          <p className="error" role="alert">
            Live stream: {liveError}
          </p>
        )}
        {seriesList.data && deviceCharts.length === 0 && (
          <p className="muted">No device telemetry recorded for this twin yet.</p>
        )}
        <div className="charts">{deviceCharts.map(renderChart)}</div>
        {derivedCharts.length > 0 && (
          <details className="derived" onToggle={(e) => setShowDerived(e.currentTarget.open)}>
            <summary>
              Derived by the platform ({derivedCharts.length}): residuals, anomaly scores, predictions,
              rolling values
            </summary>
            {showDerived && <div className="charts">{derivedCharts.map(renderChart)}</div>}
          </details>
        )}
      </section>

      <div className="two">
        <section aria-labelledby="props-title">
          <h2 id="props-title">Properties</h2>
          {rows.length === 0 ? (
            <p className="muted">No property set.</p>
          ) : (
            <table className="grid" aria-label="Properties">
              <thead>
                <tr>
                  <th scope="col">Property</th>
                  <th scope="col">Reported</th>
                  <th scope="col">Desired</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.path}>
                    <th scope="row">{r.path}</th>
                    {r.device ? (
                      <>
                        <td
                          title={
                            r.device.reportedTime ? new Date(r.device.reportedTime).toISOString() : undefined
                          }
                        >
                          {'reported' in r.device ? formatValue(r.device.reported) : '—'}
                        </td>
                        <td className={r.device.pending ? 'pending' : ''}>
                          {formatValue(r.value)}
                          {r.device.pending && (
                            <span className="pending-mark" title="The device has not reported this value yet">
                              {' '}
                              pending
                            </span>
                          )}
                        </td>
                      </>
                    ) : (
                      <>
                        <td>{formatValue(r.value)}</td>
                        <td
                          className={
                            r.desired !== undefined && JSON.stringify(r.desired) !== JSON.stringify(r.value)
                              ? 'pending'
                              : ''
                          }
                        >
                          {r.desired !== undefined ? formatValue(r.desired) : ''}
                        </td>
                      </>
                    )}
                    <td title={r.updated ? new Date(r.updated).toISOString() : undefined}>
                      {r.updated ? formatAge(r.updated, now) : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        <section aria-labelledby="alarms-title">
          <h2 id="alarms-title">Alarms</h2>
          {!alarms.data || alarms.data.length === 0 ? (
            <p className="muted">{alarms.error ? 'Alarms are not available.' : 'No alarm for this twin.'}</p>
          ) : (
            <ul className="plain">
              {alarms.data.map((a) => (
                <li key={a.id}>
                  <span className={`sev ${a.severity}`}>{a.severity}</span>{' '}
                  <span className={`state ${a.state}`}>{a.state}</span> {a.message}{' '}
                  <span className="muted">{formatAge(Date.parse(a.lastTime), now)}</span>
                </li>
              ))}
            </ul>
          )}
          <p>
            <Link href={routeHref({ page: 'alarms' })}>All alarms</Link>
          </p>

          {declared.data && declared.data.commands.length > 0 && (
            <TwinCommands twinId={id} commands={declared.data.commands} now={now} />
          )}

          <h2>Relationships</h2>
          {rels.data && rels.data.out.length + rels.data.inc.length === 0 && <p className="muted">None.</p>}
          <ul className="plain">
            {rels.data?.out.map((r) => (
              <li key={`o${r.$relationshipId}`}>
                {r.$relationshipName} → <Link href={twinHref(r.$targetId)}>{r.$targetId}</Link>
              </li>
            ))}
            {rels.data?.inc.map((r) => (
              <li key={`i${r.$relationshipId}${r.$sourceId}`}>
                <Link href={twinHref(r.$sourceId)}>{r.$sourceId}</Link> {r.$relationshipName} → this twin
              </li>
            ))}
          </ul>
        </section>
      </div>
    </>
  );
}
