/**
 * A twin's commands (from its model): a form per command that sends it to the twin's device
 * (POST /digitaltwins/{id}/commands/{name}, the request payload as JSON, checked by the server against
 * the model) and the commands sent from this page with their state. Today the platform's state of a
 * command ends at "sent": the broker took it (QoS 1); device responses are not tracked yet.
 */
import { useState } from 'react';
import { twinPath } from '../api/client.js';
import { useApp } from '../app-context.js';
import { formatAge } from '../lib/format.js';
import type { ModelCommand } from '../lib/model-telemetry.js';

interface Sent {
  key: number;
  command: string;
  at: number;
  state: 'sending' | 'sent' | 'refused';
  requestId?: string;
  message?: string;
}

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
  const { api } = useApp();
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<Sent[]>([]);

  const send = (c: ModelCommand) => {
    const raw = (inputs[c.name] ?? '').trim();
    const key = Date.now() + Math.random();
    const add = (s: Sent) => setSent((old) => [s, ...old.filter((x) => x.key !== s.key)].slice(0, 20));
    let body: unknown = undefined;
    if (c.request) {
      try {
        body = JSON.parse(raw);
      } catch {
        add({
          key,
          command: c.name,
          at: Date.now(),
          state: 'refused',
          message: `The request is not JSON: ${raw || '(empty)'}`,
        });
        return;
      }
    }
    add({ key, command: c.name, at: Date.now(), state: 'sending' });
    api
      .post<{ requestId: string }>(twinPath(twinId, `/commands/${encodeURIComponent(c.name)}`), body)
      .then((r) => add({ key, command: c.name, at: Date.now(), state: 'sent', requestId: r.requestId }))
      .catch((e: Error) =>
        add({ key, command: c.name, at: Date.now(), state: 'refused', message: e.message }),
      );
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
      {sent.length > 0 && (
        <ul className="plain" aria-label="Commands sent from this page">
          {sent.map((s) => (
            <li key={s.key}>
              <span className={`state ${s.state === 'refused' ? 'failed' : s.state}`}>{s.state}</span>{' '}
              {s.command} {s.requestId && <code className="small">{s.requestId}</code>}{' '}
              {s.message && <span className="error-text">{s.message}</span>}{' '}
              <span className="muted">{formatAge(s.at, now)}</span>
            </li>
          ))}
        </ul>
      )}
      <p className="muted small">
        Sent means the broker took the command (MQTT, QoS 1) on <code>twins/{twinId}/commands/…</code>; device
        responses are not tracked yet.
      </p>
    </section>
  );
}
