/**
 * Alarms: the list with filters (state, severity, twin), newest first; acknowledge with a comment,
 * clear with a reason. Who acted is the name given here (sent as `Twinloop-User`; the server has one
 * token, not users: docs/alarms.md). Updated live from the stream's alarm events.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { AlarmJson, Page } from '../api/types.js';
import { useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { formatAge, formatValue } from '../lib/format.js';
import { twinHref } from '../lib/routes.js';

const STATES = [
  { value: 'open', label: 'Open (active and acknowledged)' },
  { value: 'active', label: 'Active' },
  { value: 'acknowledged', label: 'Acknowledged' },
  { value: 'cleared', label: 'Cleared' },
  { value: '', label: 'All' },
];
const SEVERITIES = ['', 'critical', 'major', 'minor', 'warning', 'info'];

function userName(): string {
  try {
    return sessionStorage.getItem('twinloop.user') ?? '';
  } catch {
    return '';
  }
}

export function Alarms() {
  const { api, live } = useApp();
  const [state, setState] = useState('open');
  const [severity, setSeverity] = useState('');
  const [twin, setTwin] = useState('');
  const [user, setUser] = useState(userName);
  const [acting, setActing] = useState<{ id: string; kind: 'ack' | 'clear' } | undefined>();
  const [note, setNote] = useState('');
  const [actionError, setActionError] = useState<Error | undefined>();
  const [now, setNow] = useState(Date.now());

  const list = usePoll(
    () => {
      const q = new URLSearchParams({ limit: '200' });
      if (state) q.set('state', state);
      if (severity) q.set('severity', severity);
      if (twin.trim()) q.set('twin', twin.trim());
      return api.get<Page<AlarmJson>>(`/alarms?${q}`).then((p) => p.value);
    },
    30_000,
    [state, severity, twin],
  );

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  useEffect(
    () => live.subscribe({ query: 'SELECT * FROM DIGITALTWINS' }, ['alarm'], () => list.reload()),
    [live],
  );
  useEffect(() => {
    try {
      sessionStorage.setItem('twinloop.user', user);
    } catch {
      // not kept
    }
  }, [user]);

  const act = async (e: FormEvent) => {
    e.preventDefault();
    if (!acting) return;
    setActionError(undefined);
    try {
      const body = acting.kind === 'ack' ? (note ? { comment: note } : {}) : note ? { reason: note } : {};
      await api.post(`/alarms/${encodeURIComponent(acting.id)}/${acting.kind}`, body, {
        ...(user.trim() ? { 'twinloop-user': user.trim() } : {}),
      });
      setActing(undefined);
      setNote('');
      list.reload();
    } catch (err) {
      setActionError(err as Error);
    }
  };

  return (
    <>
      <h1>Alarms</h1>
      <form className="row" aria-label="Filter alarms" onSubmit={(e) => e.preventDefault()}>
        <label>
          State{' '}
          <select value={state} onChange={(e) => setState(e.target.value)}>
            {STATES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity{' '}
          <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s || 'Any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Twin <input value={twin} onChange={(e) => setTwin(e.target.value)} placeholder="pump-1b" />
        </label>
        <label>
          Your name <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="anonymous" />
        </label>
      </form>
      {list.error && <ErrorBox error={list.error} title="Alarms could not be read" />}
      {actionError && <ErrorBox error={actionError} title="The action failed" />}
      {list.data && list.data.length === 0 && <p className="muted">No alarm matches.</p>}
      {list.data && list.data.length > 0 && (
        <table className="grid" aria-label="Alarms">
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">State</th>
              <th scope="col">Twin</th>
              <th scope="col">Message</th>
              <th scope="col">Last</th>
              <th scope="col">Count</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((a) => (
              <tr key={a.id}>
                <td>
                  <span className={`sev ${a.severity}`}>{a.severity}</span>
                </td>
                <td>
                  <span className={`state ${a.state}`}>{a.state}</span>
                  {a.acknowledged && (
                    <div className="muted small">
                      by {a.acknowledged.by}
                      {a.acknowledged.comment ? `: “${a.acknowledged.comment}”` : ''}
                    </div>
                  )}
                </td>
                <td>
                  <Link href={twinHref(a.twinId)}>{a.twinId}</Link>
                </td>
                <td>
                  {a.message}
                  {a.value !== undefined && <span className="muted"> ({formatValue(a.value)})</span>}
                  <div className="muted small">rule {a.ruleId}</div>
                </td>
                <td title={a.lastTime}>{formatAge(Date.parse(a.lastTime), now)}</td>
                <td>{a.count}</td>
                <td>
                  {acting?.id === a.id ? (
                    <form
                      onSubmit={(e) => void act(e)}
                      className="inline"
                      aria-label={`${acting.kind === 'ack' ? 'Acknowledge' : 'Clear'} alarm on ${a.twinId}`}
                    >
                      <label>
                        <span className="sr-only">{acting.kind === 'ack' ? 'Comment' : 'Reason'}</span>
                        <input
                          autoFocus
                          aria-label={acting.kind === 'ack' ? 'Comment' : 'Reason'}
                          placeholder={acting.kind === 'ack' ? 'Comment (optional)' : 'Reason (optional)'}
                          value={note}
                          maxLength={2000}
                          onChange={(e) => setNote(e.target.value)}
                        />
                      </label>
                      <button type="submit">{acting.kind === 'ack' ? 'Acknowledge' : 'Clear'}</button>
                      <button type="button" onClick={() => setActing(undefined)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    <div className="row">
                      {a.state === 'active' && (
                        <button
                          type="button"
                          onClick={() => (setActing({ id: a.id, kind: 'ack' }), setNote(''))}
                          aria-label={`Acknowledge alarm on ${a.twinId}: ${a.message}`}
                        >
                          Ack
                        </button>
                      )}
                      {a.state !== 'cleared' && (
                        <button
                          type="button"
                          onClick={() => (setActing({ id: a.id, kind: 'clear' }), setNote(''))}
                          aria-label={`Clear alarm on ${a.twinId}: ${a.message}`}
                        >
                          Clear
                        </button>
                      )}
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
