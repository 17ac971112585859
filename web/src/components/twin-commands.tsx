/**
 * A twin's commands (from its model): a form per command that sends it to the twin's device
 * (POST /digitaltwins/{id}/commands/{name}, the request payload as JSON, checked by the server against
 * the model), and the twin's recent commands with their state (docs/control.md) followed live:
 * queued, sent, acknowledged, then succeeded or failed with the device's answer, or expired.
 */
import { useEffect, useState } from 'react';
import { twinPath } from '../api/client.js';
import { useApp } from '../app-context.js';
import { formatAge } from '../lib/format.js';
import type { ModelCommand } from '../lib/model-telemetry.js';

/** A request this page could not send (refused before it was stored). */
interface Refused {
  key: number;
  command: string;
  at: number;
  message: string;
}

/** A command as GET /digitaltwins/{id}/commands answers it. */
interface StoredCommand {
  requestId: string;
  command: string;
  state: string;
  createdAt: string;
  steps: { state: string; at: string }[];
  status?: number;
  response?: unknown;
  reason?: string;
}

const SHOWN = 10;

/** An example request for a DTDL schema (the placeholder of its field). */
function example(schema: unknown): string {
  switch (schema) {
    case 'boolean':
      return 'true';
    case 'string':
      return '"text"';
    case 'integer':
    case 'long':
      return '1';
    case 'double':
    case 'float':
      return '1.5';
    case 'dateTime':
      return `"${new Date(0).toISOString()}"`;
    default:
      return typeof schema === 'string' ? `a ${schema} as JSON` : 'JSON';
  }
}

export function TwinCommands({
  twinId,
  commands,
  now,
}: {
  twinId: string;
  commands: ModelCommand[];
  now: number;
}) {
  const { api, live } = useApp();
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const [refused, setRefused] = useState<Refused[]>([]);
  const [recent, setRecent] = useState<StoredCommand[]>([]);
  const [sending, setSending] = useState(0);

  // The twin's recent commands, then every step of them as it happens.
  useEffect(() => {
    let alive = true;
    const merge = (c: StoredCommand) =>
      setRecent((old) => [c, ...old.filter((x) => x.requestId !== c.requestId)].slice(0, SHOWN));
    api
      .get<{ value: StoredCommand[] }>(twinPath(twinId, `/commands?limit=${SHOWN}`))
      .then((r) => alive && setRecent(r.value))
      .catch(() => undefined);
    const off = live.subscribe({ twinIds: [twinId] }, ['command'], (events) => {
      for (const e of events) if (e.type === 'command') merge(e.command as unknown as StoredCommand);
    });
    return () => {
      alive = false;
      off();
    };
  }, [api, live, twinId]);

  const send = (c: ModelCommand) => {
    const raw = (inputs[c.name] ?? '').trim();
    const key = Date.now() + Math.random();
    const refuse = (message: string) =>
      setRefused((old) => [{ key, command: c.name, at: Date.now(), message }, ...old].slice(0, 5));
    let body: unknown = undefined;
    if (c.request) {
      try {
        body = JSON.parse(raw);
      } catch {
        refuse(`The request is not JSON: ${raw || '(empty)'}`);
        return;
      }
    }
    setSending((n) => n + 1);
    api
      .post<StoredCommand>(twinPath(twinId, `/commands/${encodeURIComponent(c.name)}`), body)
      .then((r) =>
        setRecent((old) =>
          old.some((x) => x.requestId === r.requestId) ? old : [r, ...old].slice(0, SHOWN),
        ),
      )
      .catch((e: Error) => refuse(e.message))
      .finally(() => setSending((n) => n - 1));
  };

  return (
    <section aria-labelledby="commands-title">
      <h2 id="commands-title">Commands</h2>
      {commands.map((c) => (
        <form
          key={c.name}
          className="row command"
          onSubmit={(e) => {
            e.preventDefault();
            send(c);
          }}
        >
          <strong>{c.name}</strong>
          {c.request && (
            <label>
              {c.request.name}{' '}
              <input
                value={inputs[c.name] ?? ''}
                onChange={(e) => setInputs((old) => ({ ...old, [c.name]: e.target.value }))}
                placeholder={example(c.request.schema)}
                aria-label={`${c.name}: ${c.request.name} (${typeof c.request.schema === 'string' ? c.request.schema : 'JSON'})`}
              />
            </label>
          )}
          <button type="submit" aria-label={`Send ${c.name}`}>
            Send
          </button>
          {c.description && <span className="muted small">{c.description}</span>}
        </form>
      ))}
      {refused.map((r) => (
        <p key={r.key} className="error-text" role="alert">
          {r.command}: {r.message}
        </p>
      ))}
      {sending > 0 && <p className="muted small">Sending…</p>}
      {recent.length > 0 && (
        <table className="commands" aria-label="Recent commands">
          <thead>
            <tr>
              <th>Command</th>
              <th>State</th>
              <th>Steps</th>
              <th>Answer</th>
            </tr>
          </thead>
          <tbody>
            {recent.map((c) => (
              <tr key={c.requestId}>
                <td>
                  {c.command}{' '}
                  <code className="small" title={c.requestId}>
                    {c.requestId.slice(0, 8)}
                  </code>
                </td>
                <td>
                  <span className={`state ${c.state}`}>{c.state}</span>
                </td>
                <td className="muted small">
                  {c.steps.map((s) => `${s.state} ${formatAge(Date.parse(s.at), now)}`).join(' → ')}
                </td>
                <td className="small">
                  {c.status !== undefined && <code>{c.status}</code>}{' '}
                  {c.response !== undefined && <code>{JSON.stringify(c.response).slice(0, 80)}</code>}{' '}
                  {c.reason && (
                    <span className={c.state === 'failed' ? 'error-text' : 'muted'}>{c.reason}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted small">
        Commands are stored first: <em>queued</em> while the device is offline, <em>sent</em> on{' '}
        <code>twins/{twinId}/commands/…</code>, <em>acknowledged</em> when the device has it, then{' '}
        <em>succeeded</em> or <em>failed</em> with its answer, or <em>expired</em>.
      </p>
    </section>
  );
}
