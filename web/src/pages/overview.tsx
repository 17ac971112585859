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
import { routeHref, twinHref } from '../lib/routes.js';
import type { AlarmJson, Health, HomeJson, IngestStatsJson, Page, SimulatorStatus } from '../api/types.js';

interface DeadLetterRow {
  id: number;
  time: string;
  source: string;
  code: string;
  reason: string;
  topic?: string;
}

interface Snapshot {
  home: HomeJson;
  health: Health;
  ingest: IngestStatsJson | undefined;
  deadLetters: { total: number; value: DeadLetterRow[] } | undefined;
  alarms: AlarmJson[] | undefined;
  simulator: SimulatorStatus | undefined;
}

const ALL_TWINS = 'SELECT * FROM DIGITALTWINS';

export function Overview() {
  const { api } = useApp();
  const prev = useRef<{ count: number; time: number } | undefined>(undefined);
  const rate = useRef<number | undefined>(undefined);
  const optional = <T,>(p: Promise<T>) => p.catch(() => undefined);
  const { data, error } = usePoll<Snapshot>(async () => {
    const [home, health, ingest, deadLetters, alarms, simulator] = await Promise.all([
      api.get<HomeJson>('/'),
      api.get<Health>('/healthz'),
      optional(api.get<IngestStatsJson>('/ingest/stats')),
      optional(api.get<{ total: number; value: DeadLetterRow[] }>('/deadletters?limit=5')),
      optional(api.get<Page<AlarmJson>>('/alarms?state=open&limit=1000').then((p) => p.value)),
      optional(api.get<SimulatorStatus>('/simulator')),
    ]);
    if (ingest) {
      const cur = { count: ingest.acceptedReadings, time: Date.parse(ingest.time) };
      rate.current = ratePerSecond(prev.current, cur) ?? rate.current;
      prev.current = cur;
    }
    return { home, health, ingest, deadLetters, alarms, simulator };
  }, 5000);

  if (error && !data) return <ErrorBox error={error} title="The overview could not be loaded" />;
  if (!data) return <p className="muted">Loading the overview…</p>;
  const { home, health, ingest, deadLetters, alarms, simulator } = data;
  const active = alarms?.filter((a) => a.state === 'active').length;
  const acked = alarms?.filter((a) => a.state === 'acknowledged').length;
  const now = Date.now();

  return (
    <>
      <h1>
        {home.pilot} <span className="muted">overview</span>
      </h1>
      {error && <ErrorBox error={error} title="Refresh failed (showing the last figures)" />}
      <section className="cards" aria-label="Figures">
        <Card title="Models" value={health.models} href={routeHref({ page: 'explorer', query: ALL_TWINS })}>
          DTDL interfaces loaded
        </Card>
        <Card title="Twins" value={health.twins} href={routeHref({ page: 'explorer', query: ALL_TWINS })}>
          {health.relationships} relationships
        </Card>
        <Card
          title="Ingest rate"
          value={
            rate.current !== undefined
              ? `${formatValue(rate.current)}/s`
              : ingest && ingest.uptimeSeconds > 0
                ? `${formatValue(ingest.acceptedReadings / ingest.uptimeSeconds)}/s`
                : '—'
          }
          href={routeHref({ page: 'explorer', query: ALL_TWINS })}
        >
          {rate.current !== undefined ? 'readings per second, last 5 s' : 'readings per second since start'}
          {ingest ? `; ${ingest.acceptedReadings.toLocaleString()} in all` : ''}
        </Card>
        <Card
          title="Dead letters"
          value={deadLetters?.total ?? '—'}
          tone={deadLetters && deadLetters.total > 0 ? 'warn' : undefined}
          href="#dead-letters"
        >
          rejected inputs kept
        </Card>
        <Card
          title="Active alarms"
          value={active ?? '—'}
          tone={active ? 'bad' : undefined}
          href={routeHref({ page: 'alarms' })}
        >
          {acked !== undefined ? `${acked} acknowledged` : 'analytics off'}
        </Card>
        <Card
          title="Simulator"
          value={simulator?.running ? 'running' : 'off'}
          href={home.exampleTwin ? twinHref(home.exampleTwin) : routeHref({ page: 'explorer' })}
        >
          {simulator?.running
            ? `${home.simulator?.assets ?? '?'} devices at ×${simulator.speed ?? '?'}`
            : 'no simulated devices'}
        </Card>
        <Card
          title="Shadow mode"
          value={home.shadow ? 'on' : 'off'}
          href={routeHref({
            page: 'explorer',
            query:
              'SELECT T.$dtId, T.$telemetry.vibrationResidual FROM DIGITALTWINS T WHERE IS_DEFINED(T.$telemetry.vibrationResidual)',
          })}
        >
          {home.shadow ? 'residuals on twins with a behaviour' : 'no residuals'}
        </Card>
      </section>

      <div className="two">
        <section aria-labelledby="connect">
          <h2 id="connect">Connect</h2>
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
        </section>

        <section aria-labelledby="dead-letters">
          <h2 id="dead-letters">Latest dead letters</h2>
          {!deadLetters || deadLetters.value.length === 0 ? (
            <p className="muted">None: every input was accepted.</p>
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
