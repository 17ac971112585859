/**
 * What-if simulation: start a run from a twin (it and the twins it leads to, or it alone) over a
 * horizon with a fault or a command at a time (POST /simulations; live twins are never touched),
 * follow its progress, cancel it; when it has succeeded, the answer in words (GET
 * /simulations/{id}/answer, computed by the server: "pump-3a crosses its vibrationLimit … in 21 h")
 * and each twin's simulated telemetry drawn after its measured history. The recent runs are listed.
 */
import { useContext, useEffect, useState, type FormEvent } from 'react';
import { twinPath } from '../api/client.js';
import type {
  HistoryAggregate,
  LimitCheck,
  Page,
  TwinTrajectory,
  WhatIfAnswer,
  WhatIfJobJson,
} from '../api/types.js';
import { ThemeContext, useApp } from '../app-context.js';
import { Chart } from '../components/chart.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { formatAge, formatValue } from '../lib/format.js';
import { routeHref, twinHref } from '../lib/routes.js';
import { intervalParam, pickInterval } from '../lib/series.js';
import { joinHistoryAndRun } from '../lib/whatif-series.js';

const finished = (j: WhatIfJobJson) =>
  j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled';
/** Most history drawn before the fork, ms. */
const MAX_HISTORY_MS = 7 * 86_400_000;
/** Most series charted for one twin. */
const MAX_CHARTS = 6;

function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

export function Simulation(props: { twin?: string | undefined; run?: string | undefined }) {
  const { api, navigate } = useApp();
  const runs = usePoll(() => api.get<Page<WhatIfJobJson>>('/simulations').then((p) => p.value), 5000, []);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);

  return (
    <>
      <h1>What if…</h1>
      <p className="muted">
        Fork twins and simulate ahead with a fault or a command: the live twins are never touched.
      </p>
      <StartForm
        key={props.twin ?? ''}
        twin={props.twin}
        onStarted={(job) => {
          runs.reload();
          navigate(
            routeHref({ page: 'simulation', ...(props.twin ? { twin: props.twin } : {}), run: job.id }),
          );
        }}
      />
      {props.run && <Run key={props.run} id={props.run} twin={props.twin} onChange={() => runs.reload()} />}
      <section aria-labelledby="recent-runs">
        <h2 id="recent-runs">Recent runs</h2>
        {runs.error && <ErrorBox error={runs.error} title="The runs could not be read" />}
        {runs.data && runs.data.length === 0 && <p className="muted">No run yet.</p>}
        {runs.data && runs.data.length > 0 && (
          <table className="grid" aria-label="Recent runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Twins</th>
                <th scope="col">Horizon</th>
                <th scope="col">Started</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link
                      href={routeHref({
                        page: 'simulation',
                        ...(props.twin ? { twin: props.twin } : {}),
                        run: j.id,
                      })}
                      aria-current={j.id === props.run ? 'true' : undefined}
                    >
                      {j.name ?? j.id}
                    </Link>
                  </td>
                  <td>
                    <span className={`state ${j.status}`}>{j.status}</span>
                    {j.status === 'running' && ` ${Math.floor(j.progress * 100)}%`}
                  </td>
                  <td className="small">
                    {j.twins.slice(0, 4).join(', ')}
                    {j.twins.length > 4 ? ` and ${j.twins.length - 4} more` : ''}
                  </td>
                  <td>{duration(j.horizon)}</td>
                  <td title={j.createdAt}>{formatAge(Date.parse(j.createdAt), now)}</td>
                  <td>
                    {!finished(j) && (
                      <button
                        type="button"
                        aria-label={`Cancel run ${j.name ?? j.id}`}
                        onClick={() =>
                          void api.del(`/simulations/${encodeURIComponent(j.id)}`).finally(runs.reload)
                        }
                      >
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function StartForm(props: { twin?: string | undefined; onStarted: (job: WhatIfJobJson) => void }) {
  const { api } = useApp();
  const [twin, setTwin] = useState(props.twin ?? '');
  const [scope, setScope] = useState<'root' | 'twin'>('root');
  const [horizon, setHorizon] = useState('24h');
  const [faultAt, setFaultAt] = useState('1h');
  const [fault, setFault] = useState('');
  const [commandAt, setCommandAt] = useState('2h');
  const [command, setCommand] = useState('');
  const [payload, setPayload] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<Error | undefined>();
  const [starting, setStarting] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const id = twin.trim();
    const events: Record<string, unknown>[] = [];
    if (fault.trim()) events.push({ at: faultAt.trim(), twin: id, fault: fault.trim() });
    if (command.trim()) {
      let value: unknown = undefined;
      if (payload.trim()) {
        try {
          value = JSON.parse(payload);
        } catch {
          value = payload.trim(); // a bare word: a string
        }
      }
      events.push({
        at: commandAt.trim(),
        twin: id,
        command: command.trim(),
        ...(value === undefined ? {} : { payload: value }),
      });
    }
    const body = {
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(scope === 'root' ? { root: id } : { twins: [id] }),
      horizon: horizon.trim(),
      ...(events.length ? { events } : {}),
    };
    setStarting(true);
    try {
      props.onStarted(await api.post<WhatIfJobJson>('/simulations', body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setStarting(false);
    }
  };

  return (
    <form className="whatif" aria-label="Start a what-if run" onSubmit={(e) => void submit(e)}>
      <div className="row">
        <label>
          Twin <input required value={twin} onChange={(e) => setTwin(e.target.value)} placeholder="pump-3a" />
        </label>
        <label>
          Simulate{' '}
          <select value={scope} onChange={(e) => setScope(e.target.value as 'root' | 'twin')}>
            <option value="root">it and the twins it leads to</option>
            <option value="twin">this twin only</option>
          </select>
        </label>
        <label>
          Horizon{' '}
          <input size={6} value={horizon} onChange={(e) => setHorizon(e.target.value)} placeholder="24h" />
        </label>
        <label>
          Name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" />
        </label>
      </div>
      <div className="row">
        <label>
          Fault <input value={fault} onChange={(e) => setFault(e.target.value)} placeholder="bearingDamage" />
        </label>
        <label>
          Fault at <input size={6} value={faultAt} onChange={(e) => setFaultAt(e.target.value)} />
        </label>
        <label>
          Command{' '}
          <input value={command} onChange={(e) => setCommand(e.target.value)} placeholder="setRunning" />
        </label>
        <label>
          Command payload{' '}
          <input size={8} value={payload} onChange={(e) => setPayload(e.target.value)} placeholder="false" />
        </label>
        <label>
          Command at <input size={6} value={commandAt} onChange={(e) => setCommandAt(e.target.value)} />
        </label>
        <button type="submit" disabled={starting || !twin.trim()}>
          {starting ? 'Starting…' : 'Run what-if'}
        </button>
      </div>
      {error && <ErrorBox error={error} title="The run did not start" />}
    </form>
  );
}

function Run(props: { id: string; twin?: string | undefined; onChange: () => void }) {
  const { api } = useApp();
  const path = `/simulations/${encodeURIComponent(props.id)}`;
  const [job, setJob] = useState<WhatIfJobJson | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [answer, setAnswer] = useState<WhatIfAnswer | undefined>();
  const [trajectories, setTrajectories] = useState<TwinTrajectory[] | undefined>();
  const [shown, setShown] = useState<string | undefined>(props.twin);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const j = await api.get<WhatIfJobJson>(path);
        if (!alive) return;
        setJob(j);
        if (!finished(j)) {
          timer = setTimeout(() => void poll(), 400);
          return;
        }
        props.onChange();
        if (j.status === 'succeeded') {
          const [a, t] = await Promise.all([
            api.get<WhatIfAnswer>(`${path}/answer`),
            api.get<{ twins: TwinTrajectory[] }>(`${path}/trajectories`),
          ]);
          if (!alive) return;
          setAnswer(a);
          setTrajectories(t.twins);
        }
      } catch (e) {
        if (alive) setError(e as Error);
      }
    };
    void poll();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [path]);

  if (error) return <ErrorBox error={error} title={`Run ${props.id}`} />;
  if (!job) return <p className="muted">Loading run {props.id}…</p>;
  const twinIds = trajectories?.map((t) => t.twinId) ?? [];
  const current = trajectories?.find((t) => t.twinId === shown) ?? trajectories?.[0];
  const forkMs = Date.parse(job.startedAt ?? job.createdAt);

  return (
    <section className="run" aria-labelledby="run-title">
      <h2 id="run-title">
        {job.name ?? `Run ${job.id}`} <span className={`state ${job.status}`}>{job.status}</span>
      </h2>
      <p className="muted small">
        {job.twins.length} twin{job.twins.length === 1 ? '' : 's'} simulated for {duration(job.horizon)}:{' '}
        {job.twins.join(', ')}
        {job.skipped.length > 0 &&
          ` · not simulated: ${job.skipped.map((s) => `${s.twinId} (${s.reason})`).join('; ')}`}
      </p>
      {!finished(job) && (
        <div className="row">
          <progress max={1} value={job.progress} aria-label="Progress of the run" />
          <span>
            {Math.floor(job.progress * 100)}% · {duration(job.simulatedSeconds)} of {duration(job.horizon)}{' '}
            simulated
          </span>
          <button
            type="button"
            onClick={() =>
              void api.del<WhatIfJobJson>(path).then(setJob, (e: unknown) => setError(e as Error))
            }
            aria-label={`Cancel run ${job.name ?? job.id}`}
          >
            Cancel
          </button>
        </div>
      )}
      {job.error && (
        <p className="error" role="alert">
          {job.error.code}: {job.error.message}
        </p>
      )}
      {answer && (
        <>
          <p className="answer" role="status" aria-label="Answer">
            {answer.sentence}
          </p>
          {answer.checks.length > 0 && <Checks checks={answer.checks} />}
        </>
      )}
      {current && (
        <>
          {twinIds.length > 1 && (
            <label>
              Twin shown{' '}
              <select value={current.twinId} onChange={(e) => setShown(e.target.value)}>
                {twinIds.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </label>
          )}
          <Trajectories
            key={current.twinId}
            t={current}
            forkMs={forkMs}
            horizon={job.horizon}
            checks={answer?.checks ?? []}
          />
        </>
      )}
    </section>
  );
}

function Checks({ checks }: { checks: LimitCheck[] }) {
  return (
    <table className="grid" aria-label="Limits checked">
      <thead>
        <tr>
          <th scope="col">Twin</th>
          <th scope="col">Telemetry</th>
          <th scope="col">Limit</th>
          <th scope="col">Crossed after</th>
          <th scope="col">Peak</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((c) => (
          <tr key={`${c.twinId}\u0000${c.series}\u0000${c.limitName}`}>
            <td>
              <Link href={twinHref(c.twinId)}>{c.twinId}</Link>
            </td>
            <td>{c.series}</td>
            <td>
              {c.limitName} {c.direction === 'above' ? '>' : '<'} {formatValue(c.limit)}
              {c.unit ? ` ${c.unit}` : ''}
            </td>
            <td className={c.crossedAt !== undefined ? 'pending' : undefined}>
              {c.crossedAt !== undefined
                ? `${duration(c.crossedAt)} (${formatValue(c.crossedValue)})`
                : 'not crossed'}
            </td>
            <td>
              {formatValue(c.peak)} after {duration(c.peakAt)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The twin's simulated telemetry, each after its measured history (the same length before the fork, at most a week). */
function Trajectories(props: { t: TwinTrajectory; forkMs: number; horizon: number; checks: LimitCheck[] }) {
  const { api } = useApp();
  const theme = useContext(ThemeContext);
  const limited = new Set(props.checks.filter((c) => c.twinId === props.t.twinId).map((c) => c.series));
  const names = Object.keys(props.t.telemetry)
    .sort((a, b) => Number(limited.has(b)) - Number(limited.has(a)) || a.localeCompare(b))
    .slice(0, MAX_CHARTS);
  const [history, setHistory] = useState<Record<string, { xs: number[]; ys: (number | null)[] }>>({});

  useEffect(() => {
    let alive = true;
    const to = props.forkMs;
    const from = to - Math.min(MAX_HISTORY_MS, props.horizon * 1000);
    const interval = pickInterval(to - from, 300);
    for (const name of names) {
      const q = new URLSearchParams({
        path: name,
        from: String(Math.floor(from)),
        to: String(Math.ceil(to)),
        interval: intervalParam(interval),
        fn: 'avg',
      });
      api
        .get<HistoryAggregate>(twinPath(props.t.twinId, `/history?${q}`))
        .then((h) => {
          if (!alive) return;
          const xs: number[] = [];
          const ys: (number | null)[] = [];
          for (const b of h.value) {
            xs.push(b.start + interval / 2);
            ys.push(b.count > 0 && typeof b.avg === 'number' ? b.avg : null);
          }
          setHistory((old) => ({ ...old, [name]: { xs, ys } }));
        })
        .catch(() => {
          // no history (a twin that never reported): the run alone is drawn
          if (alive) setHistory((old) => ({ ...old, [name]: { xs: [], ys: [] } }));
        });
    }
    return () => {
      alive = false;
    };
  }, [props.t.twinId, props.forkMs]);

  return (
    <div className="charts" aria-label={`Trajectories of ${props.t.twinId}`}>
      {names.map((name) => {
        const j = joinHistoryAndRun(
          history[name] ?? { xs: [], ys: [] },
          props.forkMs,
          props.t.times,
          props.t.telemetry[name] ?? [],
        );
        const unit = props.t.units[name];
        const check = props.checks.find((c) => c.twinId === props.t.twinId && c.series === name);
        return (
          <figure className="chart-box" key={name}>
            <figcaption>
              <span>
                {name}
                {unit ? ` (${unit})` : ''}
              </span>
              {check && (
                <span className="muted small">
                  limit {check.direction === 'above' ? '>' : '<'} {formatValue(check.limit)}
                </span>
              )}
            </figcaption>
            <Chart
              label={`${props.t.twinId} ${name}`}
              xs={j.xs}
              ys={j.ys}
              overlays={[
                { label: 'simulated', ys: j.overlay, kind: 'forecast' },
                ...(check && typeof check.limit === 'number'
                  ? [{ label: 'limit', ys: j.xs.map(() => check.limit as number), kind: 'limit' as const }]
                  : []),
              ]}
              theme={theme}
            />
            <span className="legend-predicted">
              solid: measured · dashed: simulated{check ? ' · red: the limit' : ''}
            </span>
          </figure>
        );
      })}
    </div>
  );
}
