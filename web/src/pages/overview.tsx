/**
 * The pilot at a glance: models and twins, ingest rate, dead letters, alarms, the simulator and
 * shadow mode, each linking where to look; then what the home page tells a new user (MQTT, the live
 * stream, commands to paste). Refreshed every 5 s.
 */
import { useRef } from 'react';
import { useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { formatAge, formatValue, ratePerSecond } from '../lib/format.js';
import { routeHref, sceneHref, twinHref } from '../lib/routes.js';
import type {
  AlarmJson,
  Health,
  HomeJson,
  IngestStatsJson,
  Page,
  SceneSummary,
  SimulatorStatus,
} from '../api/types.js';

interface DeadLetterRow {
  id: number;
  time: string;
  source: string;
  code: string;
  reason: string;
  topic?: string;
}

const ALL_TWINS = 'SELECT * FROM DIGITALTWINS';

export function Overview() {
  const { api } = useApp();
  const prev = useRef<{ count: number; time: number } | undefined>(undefined);
  const rate = useRef<number | undefined>(undefined);
  // Each figure is drawn as soon as its route answers (no figure waits for the slowest one).
  const homeP = usePoll(() => api.get<HomeJson>('/'), 5000);
  const healthP = usePoll(() => api.get<Health>('/healthz'), 5000);
  const ingestP = usePoll(async () => {
    const ingest = await api.get<IngestStatsJson>('/ingest/stats');
    const cur = { count: ingest.acceptedReadings, time: Date.parse(ingest.time) };
    rate.current = ratePerSecond(prev.current, cur) ?? rate.current;
    prev.current = cur;
    return ingest;
  }, 5000);
  const deadP = usePoll(
    () => api.get<{ total: number; value: DeadLetterRow[] }>('/deadletters?limit=5'),
    5000,
  );
  const alarmsP = usePoll(
    () => api.get<Page<AlarmJson>>('/alarms?state=open&limit=1000').then((p) => p.value),
    5000,
  );
  const simP = usePoll(() => api.get<SimulatorStatus>('/simulator'), 5000);

  const home = homeP.data;
  const health = healthP.data;
  const ingest = ingestP.data;
  const deadLetters = deadP.data;
  const alarms = alarmsP.data;
  const scenesP = usePoll(() => api.get<Page<SceneSummary>>('/scenes').then((p) => p.value), 0);
  const scenes = scenesP.data;
  const simulator = simP.data;
  const error = homeP.error ?? healthP.error;
  if (error && !home && !health) return <ErrorBox error={error} title="The overview could not be loaded" />;
  const active = alarms?.filter((a) => a.state === 'active').length;
  const acked = alarms?.filter((a) => a.state === 'acknowledged').length;
  const now = Date.now();
  const pending = '…';

  return (
    <>
      <h1>
        {home?.pilot ?? 'Twinloop'} <span className="muted">overview</span>
      </h1>
      {error && <ErrorBox error={error} title="Refresh failed (showing the last figures)" />}
      <section className="cards" aria-label="Figures">
        <Card title="Models" value={health?.models ?? pending} href={routeHref({ page: 'models' })}>
          DTDL interfaces loaded
        </Card>
        <Card
          title="Twins"
          value={health?.twins ?? pending}
          href={routeHref({ page: 'explorer', query: ALL_TWINS })}
        >
          {health ? `${health.relationships} relationships` : ''}
        </Card>
        <Card
          title="Ingest rate"
          value={
            rate.current !== undefined
              ? `${formatValue(rate.current)}/s`
              : ingest && ingest.uptimeSeconds > 0
                ? `${formatValue(ingest.acceptedReadings / ingest.uptimeSeconds)}/s`
                : ingestP.error
                  ? '—'
                  : pending
          }
          href={routeHref({ page: 'explorer', query: ALL_TWINS })}
        >
          {rate.current !== undefined ? 'readings per second, last 5 s' : 'readings per second since start'}
          {ingest ? `; ${ingest.acceptedReadings.toLocaleString()} in all` : ''}
        </Card>
        <Card
          title="Dead letters"
          value={deadLetters?.total ?? (deadP.error ? '—' : pending)}
          tone={deadLetters && deadLetters.total > 0 ? 'warn' : undefined}
          href={routeHref({ page: 'deadletters' })}
        >
          rejected inputs kept
        </Card>
        <Card
          title="Active alarms"
          value={active ?? (alarmsP.error ? '—' : pending)}
          tone={active ? 'bad' : undefined}
          href={routeHref({ page: 'alarms' })}
        >
          {acked !== undefined ? `${acked} acknowledged` : alarmsP.error ? 'analytics off' : ''}
        </Card>
        <Card
          title="3D scenes"
          value={scenes?.length ?? (scenesP.error ? '—' : pending)}
          href={scenes?.length === 1 ? sceneHref(scenes[0]!.id) : sceneHref()}
        >
          {scenes?.length === 1 ? scenes[0]!.title : 'the pilot in 3D'}
        </Card>
        <Card
          title="Simulator"
          value={simulator ? (simulator.running ? 'running' : 'off') : simP.error ? '—' : pending}
          href={home?.exampleTwin ? twinHref(home.exampleTwin) : routeHref({ page: 'explorer' })}
        >
          {simulator?.running
            ? `${home?.simulator?.assets ?? '?'} devices at ×${simulator.speed ?? '?'}` +
              (simulator.offline?.length ? `, ${simulator.offline.length} offline` : '')
            : simulator
              ? 'no simulated devices'
              : ''}
        </Card>
        <Card
          title="Shadow mode"
          value={home ? (home.shadow ? 'on' : 'off') : pending}
          href={routeHref({
            page: 'explorer',
            query:
              'SELECT T.$dtId, T.$telemetry.vibrationResidual FROM DIGITALTWINS T WHERE IS_DEFINED(T.$telemetry.vibrationResidual)',
          })}
        >
          {home ? (home.shadow ? 'residuals on twins with a behaviour' : 'no residuals') : ''}
        </Card>
      </section>

      <div className="two">
        <section aria-labelledby="connect">
          <h2 id="connect">Connect</h2>
          {!home ? (
            <p className="muted">Loading…</p>
          ) : (
            <>
              <table className="facts">
                <tbody>
                  <tr>
                    <th scope="row">MQTT</th>
                    <td>
                      <code>{home.mqttUrl}</code> — topics <code>{'twins/{twinId}/telemetry'}</code>
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Live stream</th>
                    <td>
                      <code>{home.liveUrl}</code> (WebSocket, docs/live.md)
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Access</th>
                    <td>{home.auth ? 'a token is required (DATA/token)' : 'no token needed (loopback)'}</td>
                  </tr>
                  <tr>
                    <th scope="row">API</th>
                    <td>
                      <a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI document</a>
                    </td>
                  </tr>
                </tbody>
              </table>
              <h3>Try it</h3>
              <pre aria-label="Commands to try">{home.commands.join('\n')}</pre>
            </>
          )}
        </section>

        <section aria-labelledby="dead-letters">
          <h2 id="dead-letters">Latest dead letters</h2>
          {!deadLetters || deadLetters.value.length === 0 ? (
            <p className="muted">
              {deadLetters ? 'None: every input was accepted.' : deadP.error ? 'Not available.' : 'Loading…'}
            </p>
          ) : (
            <table className="grid">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Source</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {deadLetters.value.map((d) => (
                  <tr key={d.id}>
                    <td title={d.time}>{formatAge(Date.parse(d.time), now)}</td>
                    <td>
                      {d.source}
                      {d.topic ? ` ${d.topic}` : ''}
                    </td>
                    <td>
                      <span className="code">{d.code}</span> {d.reason}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p className="small">
            <Link href={routeHref({ page: 'deadletters' })}>
              Every dead letter, with its payload and re-ingest
            </Link>
          </p>
          <h2>Open alarms</h2>
          {!alarms || alarms.length === 0 ? (
            <p className="muted">{alarms ? 'No open alarm.' : 'Alarms are not available.'}</p>
          ) : (
            <ul className="plain">
              {alarms.slice(0, 5).map((a) => (
                <li key={a.id}>
                  <span className={`sev ${a.severity}`}>{a.severity}</span>{' '}
                  <Link href={twinHref(a.twinId)}>{a.twinId}</Link> {a.message}{' '}
                  <span className="muted">{formatAge(Date.parse(a.lastTime), now)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </>
  );
}

function Card(props: {
  title: string;
  value: string | number;
  href: string;
  tone?: 'warn' | 'bad' | undefined;
  children: React.ReactNode;
}) {
  const inner = (
    <>
      <span className="card-title">{props.title}</span>
      <span className="card-value">{props.value}</span>
      <span className="card-note">{props.children}</span>
    </>
  );
  const cls = `card${props.tone ? ` ${props.tone}` : ''}`;
  return props.href.startsWith('#') ? (
    <a className={cls} href={props.href} aria-label={`${props.title}: ${props.value}`}>
      {inner}
    </a>
  ) : (
    <Link className={cls} href={props.href} aria-label={`${props.title}: ${props.value}`}>
      {inner}
    </Link>
  );
}
