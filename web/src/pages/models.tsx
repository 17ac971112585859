/**
 * Models: the DTDL interfaces loaded (id, name, what they hold, what they extend), one shown
 * formatted with its twin count; decommission and delete after a confirmation; and an upload (a file
 * or pasted text: one interface or an array) whose problems are shown at their line and column in
 * the uploaded text (json-positions.ts maps the server's JSON pointers to the text).
 */
import { useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client.js';
import type { ModelJson, Page, QueryPage } from '../api/types.js';
import { useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import { parseUpload, placeProblems, type PlacedProblem } from '../lib/json-positions.js';
import { contentsSummary } from '../lib/model-summary.js';
import { routeHref } from '../lib/routes.js';

/** Most models read for the list (pages of the API followed up to this). */
const MAX_MODELS = 2000;
/** Largest text the upload takes here (the server has its own body limit). */
const MAX_UPLOAD_CHARS = 4 * 1024 * 1024;

const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .map((x) =>
      typeof x === 'string' ? x : typeof x === 'object' && x && '@id' in x ? String(x['@id']) : '',
    )
    .filter(Boolean);

const nameOf = (m: ModelJson) => m.displayName.en ?? Object.values(m.displayName)[0] ?? '';

export function Models(props: { id?: string | undefined }) {
  const { api, navigate } = useApp();
  const models = usePoll(
    async () => {
      const out: ModelJson[] = [];
      let next: string | undefined = '/models?includeModelDefinition=true';
      while (next && out.length < MAX_MODELS) {
        const page: Page<ModelJson> = await api.get<Page<ModelJson>>(next);
        out.push(...page.value);
        next = page.nextLink
          ? new URL(page.nextLink, location.href).pathname + new URL(page.nextLink, location.href).search
          : undefined;
      }
      return out.sort((a, b) => a.id.localeCompare(b.id));
    },
    0,
    [],
  );
  const selected = models.data?.find((m) => m.id === props.id);
  const extendedBy = useMemo(() => {
    const by = new Map<string, string[]>();
    for (const m of models.data ?? [])
      for (const base of list(m.model?.extends)) by.set(base, [...(by.get(base) ?? []), m.id]);
    return by;
  }, [models.data]);

  return (
    <>
      <h1>Models</h1>
      {models.error && <ErrorBox error={models.error} title="Models could not be read" />}
      <div className="two">
        <section aria-labelledby="model-list">
          <h2 id="model-list">Loaded {models.data ? `(${models.data.length})` : ''}</h2>
          {models.data && models.data.length === 0 && <p className="muted">No model yet: upload one.</p>}
          {models.data && models.data.length > 0 && (
            <div className="scroll">
              <table className="grid" aria-label="Models">
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Contents</th>
                  </tr>
                </thead>
                <tbody>
                  {models.data.map((m) => (
                    <tr key={m.id} aria-selected={m.id === props.id}>
                      <td>
                        <Link
                          href={routeHref({ page: 'models', id: m.id })}
                          aria-current={m.id === props.id ? 'true' : undefined}
                        >
                          {m.id}
                        </Link>
                        {nameOf(m) && <div className="muted small">{nameOf(m)}</div>}
                        {list(m.model?.extends).length > 0 && (
                          <div className="muted small">extends {list(m.model?.extends).join(', ')}</div>
                        )}
                        {m.decommissioned && <span className="state cleared">decommissioned</span>}
                      </td>
                      <td>{contentsSummary(m.model)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section aria-labelledby="model-detail">
          <h2 id="model-detail">{selected ? selected.id : 'Definition'}</h2>
          {!selected && props.id && models.data && <p className="muted">There is no model {props.id}.</p>}
          {!selected && !props.id && <p className="muted">Choose a model to see its DTDL.</p>}
          {selected && (
            <ModelDetail
              key={selected.id}
              m={selected}
              extendedBy={extendedBy.get(selected.id) ?? []}
              onChanged={(gone) => (models.reload(), gone && navigate(routeHref({ page: 'models' })))}
            />
          )}
        </section>
      </div>
      <Upload
        onUploaded={(ids) => (models.reload(), ids[0] && navigate(routeHref({ page: 'models', id: ids[0] })))}
      />
    </>
  );
}

function ModelDetail(props: { m: ModelJson; extendedBy: string[]; onChanged: (gone: boolean) => void }) {
  const { api } = useApp();
  const { m } = props;
  const [confirm, setConfirm] = useState<'decommission' | 'delete' | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const twins = usePoll(
    () =>
      api
        .post<QueryPage>('/query', {
          query: `SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('${m.id.replace(/'/g, "\\'")}', exact)`,
        })
        .then((p) => Number(p.value[0]?.COUNT ?? NaN)),
    0,
    [m.id],
  );
  const act = async () => {
    setError(undefined);
    try {
      const path = `/models/${encodeURIComponent(m.id)}`;
      if (confirm === 'delete') await api.del(path);
      else await api.patch(path, [{ op: 'replace', path: '/decommissioned', value: true }]);
      setConfirm(undefined);
      props.onChanged(confirm === 'delete');
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <>
      <p>
        {nameOf(m) && <strong>{nameOf(m)} </strong>}
        <span className="muted">
          uploaded {new Date(m.uploadTime).toLocaleString()}
          {m.decommissioned ? ' · decommissioned' : ''} ·{' '}
          {twins.data !== undefined && Number.isFinite(twins.data)
            ? `${twins.data} twin${twins.data === 1 ? '' : 's'} of exactly this model`
            : twins.error
              ? 'twin count not available'
              : 'counting twins…'}
        </span>
      </p>
      {props.extendedBy.length > 0 && (
        <p className="small">
          Extended by:{' '}
          {props.extendedBy.map((id, i) => (
            <span key={id}>
              {i > 0 && ', '}
              <Link href={routeHref({ page: 'models', id })}>{id}</Link>
            </span>
          ))}
        </p>
      )}
      <pre className="dtdl" aria-label={`DTDL of ${m.id}`}>
        {JSON.stringify(m.model ?? {}, null, 2)}
      </pre>
      {error && <ErrorBox error={error} title="The model was not changed" />}
      {confirm ? (
        <div className="row confirm" role="group" aria-label="Confirm">
          <span>
            {confirm === 'delete'
              ? `Delete ${m.id}? Twins of it must be deleted first; this cannot be undone.`
              : `Decommission ${m.id}? No new twin can use it; existing twins keep it.`}
          </span>
          <button type="button" onClick={() => void act()}>
            Yes, {confirm}
          </button>
          <button type="button" onClick={() => setConfirm(undefined)}>
            Keep it
          </button>
        </div>
      ) : (
        <div className="row">
          {!m.decommissioned && (
            <button
              type="button"
              onClick={() => setConfirm('decommission')}
              aria-label={`Decommission ${m.id}`}
            >
              Decommission…
            </button>
          )}
          <button type="button" onClick={() => setConfirm('delete')} aria-label={`Delete ${m.id}`}>
            Delete…
          </button>
        </div>
      )}
    </>
  );
}

function Upload(props: { onUploaded: (ids: string[]) => void }) {
  const { api } = useApp();
  const [text, setText] = useState('');
  const [uploaded, setUploaded] = useState<string[] | undefined>();
  const [failure, setFailure] = useState<
    { text: string; message: string; problems: PlacedProblem[] } | undefined
  >();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setUploaded(undefined);
    setFailure(undefined);
    const parsed = parseUpload(text);
    if (!parsed.ok) {
      setFailure({
        text,
        message: 'The text is not JSON',
        problems: [{ message: parsed.message, line: parsed.line, column: parsed.column }],
      });
      return;
    }
    try {
      const added = await api.post<ModelJson[]>('/models', parsed.batch);
      setUploaded(added.map((m) => m.id));
      setText('');
      props.onUploaded(added.map((m) => m.id));
    } catch (err) {
      const problems = err instanceof ApiError ? err.problems : [];
      setFailure({
        text,
        message: (err as Error).message,
        problems: placeProblems(text, problems, parsed.single),
      });
    }
  };

  const onFile = async (f: File | undefined) => {
    if (!f) return;
    if (f.size > MAX_UPLOAD_CHARS) {
      setFailure({
        text: '',
        message: `The file has ${f.size} bytes; at most ${MAX_UPLOAD_CHARS} here.`,
        problems: [],
      });
      return;
    }
    setText(await f.text());
  };

  return (
    <form className="upload" aria-label="Upload models" onSubmit={(e) => void submit(e)}>
      <h2>Upload</h2>
      <label>
        DTDL file{' '}
        <input
          type="file"
          accept=".json,application/json"
          onChange={(e) => void onFile(e.target.files?.[0])}
        />
      </label>
      <label className="stack">
        DTDL text (one interface, or an array of them)
        <textarea
          rows={10}
          spellCheck={false}
          value={text}
          maxLength={MAX_UPLOAD_CHARS}
          onChange={(e) => setText(e.target.value)}
          placeholder='{"@id": "dtmi:example:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3", "contents": []}'
        />
      </label>
      <div className="row">
        <button type="submit" disabled={!text.trim()}>
          Upload
        </button>
      </div>
      {uploaded && (
        <p className="notice ok" role="status">
          Uploaded {uploaded.join(', ')}.
        </p>
      )}
      {failure && <UploadProblems {...failure} />}
    </form>
  );
}

/** Each problem with its line and column, and the line of the text it is on, a caret under the place. */
function UploadProblems(props: { text: string; message: string; problems: PlacedProblem[] }) {
  const lines = props.text.split('\n');
  return (
    <div className="error" role="alert" aria-label="Upload problems">
      {/* The server's message repeats its problems on the lines after the first: they are listed below. */}
      <strong>The upload was refused:</strong> {props.message.split('\n')[0]}
      <ul>
        {props.problems.map((p, i) => (
          <li key={i}>
            {p.line !== undefined
              ? `line ${p.line}, column ${p.column ?? 1}: `
              : p.pointer !== undefined
                ? `${p.pointer || '/'}: `
                : ''}
            {p.message}
            {p.line !== undefined && lines[p.line - 1] !== undefined && (
              <pre className="excerpt" aria-hidden="true">
                {`${String(p.line).padStart(4)} | ${lines[p.line - 1]!.slice(0, 200)}\n       ${' '.repeat(Math.min(200, Math.max(0, (p.column ?? 1) - 1)))}^`}
              </pre>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
