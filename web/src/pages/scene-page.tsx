/**
 * 3D scenes (docs/scenes.md): without an id, the list of scenes; with one, the scene drawn in 3D
 * (three.js, loaded only here) beside the list of its parts, which says the same facts for keyboard
 * and screen-reader users (twin, value, colour, alarm). Parts are coloured by their live value on
 * their scale (last values first, then the live stream), parts of twins with an active alarm are
 * highlighted, a click on a part opens its twin. The binding is edited below and stored with PUT;
 * problems show at the field they belong to.
 */
import { useContext, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { ApiError, twinPath } from '../api/client.js';
import type { AlarmJson, Page, SceneBinding, SceneJson, SceneSummary, SeriesList } from '../api/types.js';
import { ThemeContext, useApp } from '../app-context.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { usePoll } from '../components/use-poll.js';
import type { SceneViewer } from '../components/scene-viewer.js';
import { sceneHref, twinHref } from '../lib/routes.js';
import {
  fieldOfPointer,
  formatValue,
  mergeReadings,
  type SceneReading,
  partRows,
  type PartRow,
  type SceneValues,
} from '../lib/scene-state.js';

/** Most twins whose last values are read when the scene opens (the live stream fills in the rest). */
const MAX_INITIAL_TWINS = 200;

export function ScenePage({ id }: { id?: string }) {
  return id === undefined ? <SceneList /> : <SceneView id={id} />;
}

function SceneList() {
  const { api } = useApp();
  const list = usePoll(() => api.get<Page<SceneSummary>>('/scenes').then((p) => p.value), 0);
  return (
    <section>
      <h1>3D scenes</h1>
      {list.error && <ErrorBox error={list.error} title="Cannot list the scenes" />}
      {list.data?.length === 0 && (
        <p className="muted">This pilot ships no scene (docs/scenes.md says how to make one).</p>
      )}
      <ul className="plain">
        {list.data?.map((s) => (
          <li key={s.id}>
            <Link href={sceneHref(s.id)}>{s.title}</Link> <span className="muted">({s.parts} parts)</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function backgroundColour(): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue('--bg2').trim();
  return /^#[0-9a-f]{6}$/i.test(v) ? v : '#f4f6f9';
}

function SceneView({ id }: { id: string }) {
  const { api, live, navigate } = useApp();
  const theme = useContext(ThemeContext);
  const [reloadKey, setReloadKey] = useState(0);
  const scene = usePoll(() => api.get<SceneJson>(`/scenes/${encodeURIComponent(id)}`), 0, [id, reloadKey]);
  const binding = scene.data?.binding;
  const twins = useMemo(
    () => [...new Set(Object.values(binding?.parts ?? {}).map((p) => p.twin))].sort(),
    [binding],
  );
  const [values, setValues] = useState<SceneValues>(new Map());

  // Last values of each bound twin, then the live stream.
  useEffect(() => {
    if (!twins.length) return;
    let alive = true;
    void (async () => {
      const todo = twins.slice(0, MAX_INITIAL_TWINS);
      for (let i = 0; i < todo.length && alive; i += 8) {
        const lists = await Promise.all(
          todo.slice(i, i + 8).map((t) => api.get<SeriesList>(twinPath(t, '/series')).catch(() => undefined)),
        );
        if (!alive) return;
        const batch = lists.flatMap((l) =>
          (l?.value ?? [])
            .filter((s) => s.kind === 'telemetry')
            .map((s) => ({
              twinId: l!.twinId,
              time: Date.parse(s.lastTime),
              values: { [s.path]: s.lastValue },
            })),
        );
        setValues((v) => mergeReadings(v, batch));
      }
    })();
    return () => {
      alive = false;
    };
  }, [api, twins]);

  const alarms = usePoll(
    () => api.get<Page<AlarmJson>>('/alarms?state=active&limit=1000').then((p) => p.value),
    30_000,
  );
  const reloadAlarms = useRef(alarms.reload);
  reloadAlarms.current = alarms.reload;
  useEffect(() => {
    if (!twins.length) return;
    return live.subscribe({ twinIds: twins }, ['telemetry', 'alarm'], (events) => {
      const batch: SceneReading[] = [];
      for (const e of events)
        if (e.type === 'telemetry' && !e.component)
          batch.push({ twinId: e.twinId, time: e.time, values: e.values });
      if (batch.length) setValues((v) => mergeReadings(v, batch));
      if (events.some((e) => e.type === 'alarm')) reloadAlarms.current();
    });
  }, [live, twins]);

  const alarmed = useMemo(() => new Set((alarms.data ?? []).map((a) => a.twinId)), [alarms.data]);
  const rows = useMemo(() => (binding ? partRows(binding, values, alarmed) : []), [binding, values, alarmed]);

  // The 3D view: three.js is loaded here, on first use.
  const box = useRef<HTMLDivElement>(null);
  const viewer = useRef<SceneViewer | undefined>(undefined);
  const [view, setView] = useState<{ state: 'loading' | 'ready' | 'nowebgl' | 'error'; message?: string }>({
    state: 'loading',
  });
  const [rendered, setRendered] = useState<ReadonlyMap<string, string>>(new Map());
  const model = scene.data?.model;
  const bindingRef = useRef(binding);
  bindingRef.current = binding;
  const boundKey = Object.keys(binding?.parts ?? {})
    .sort()
    .join('\n');
  useEffect(() => {
    if (!model || !box.current) return;
    const container = box.current;
    let alive = true;
    let made: SceneViewer | undefined;
    setView({ state: 'loading' });
    void (async () => {
      try {
        const [{ createSceneViewer }, glb] = await Promise.all([
          import('../components/scene-viewer.js'),
          api.bytes(model),
        ]);
        if (!alive) return;
        made = await createSceneViewer({
          container,
          glb,
          background: backgroundColour(),
          bound: new Set(boundKey.split('\n')),
          onPick: (part) => {
            const twin = bindingRef.current?.parts[part]?.twin;
            if (twin !== undefined) navigate(twinHref(twin));
          },
          onRendered: (colours) =>
            setRendered((old) =>
              old.size === colours.size && [...colours].every(([k, c]) => old.get(k) === c) ? old : colours,
            ),
        });
        if (!alive) {
          made.dispose();
          return;
        }
        viewer.current = made;
        setView({ state: 'ready' });
      } catch (e) {
        if (!alive) return;
        if ((e as Error).name === 'WebGlUnavailable')
          setView({ state: 'nowebgl', message: (e as Error).message });
        else setView({ state: 'error', message: (e as Error).message });
      }
    })();
    return () => {
      alive = false;
      viewer.current = undefined;
      made?.dispose();
    };
    // Made again when the model or the set of bound parts changes (the binding is read at click time).
  }, [api, model, boundKey, navigate]);

  useEffect(() => {
    viewer.current?.update({
      colours: new Map(rows.flatMap((r) => (r.colour ? [[r.part, r.colour] as const] : []))),
      alarmed: new Set(rows.filter((r) => r.alarm).map((r) => r.part)),
      labels: new Map(rows.map((r) => [r.part, r.labels])),
    });
  }, [rows, view.state]);
  useEffect(() => {
    viewer.current?.setBackground(backgroundColour());
  }, [theme, view.state]);

  if (scene.error)
    return (
      <section>
        <h1>Scene {id}</h1>
        <ErrorBox error={scene.error} title="Cannot load the scene" />
        <p>
          <Link href={sceneHref()}>All scenes</Link>
        </p>
      </section>
    );
  return (
    <section>
      <h1>
        {scene.data?.title ?? id} <span className="muted">3D scene</span>
      </h1>
      <div className="scene-layout">
        <div className="scene-box" ref={box} data-state={view.state}>
          {view.state === 'loading' && <p className="scene-note muted">Loading the 3D view…</p>}
          {view.state === 'nowebgl' && (
            <p className="scene-note" role="status">
              3D view unavailable: this browser cannot draw WebGL. The parts list beside shows every part, its
              value and its state.
            </p>
          )}
          {view.state === 'error' && (
            <p className="scene-note error" role="alert">
              Cannot draw the scene: {view.message}
            </p>
          )}
        </div>
        <PartsTable rows={rows} rendered={rendered} />
      </div>
      {binding && scene.data && (
        <BindingEditor
          key={`${scene.data.version}`}
          id={id}
          binding={binding}
          version={scene.data.version}
          onSaved={() => setReloadKey((k) => k + 1)}
        />
      )}
    </section>
  );
}

function PartsTable({ rows, rendered }: { rows: PartRow[]; rendered: ReadonlyMap<string, string> }) {
  return (
    <div className="scroll scene-parts">
      <table className="grid" aria-label="Parts of the scene">
        <thead>
          <tr>
            <th scope="col">Part</th>
            <th scope="col">Twin</th>
            <th scope="col">Value</th>
            <th scope="col">Colour</th>
            <th scope="col">Alarm</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.part}
              data-part={r.part}
              data-colour={r.colour ?? ''}
              data-rendered-colour={rendered.get(r.part) ?? ''}
            >
              <td>{r.part}</td>
              <td>
                <Link href={twinHref(r.twin)} aria-label={`Open twin ${r.twin}`}>
                  {r.twin}
                </Link>
              </td>
              <td>{r.telemetry ? `${r.telemetry} ${formatValue(r.value, r.unit)}` : '—'}</td>
              <td>
                {r.colour ? (
                  <>
                    <Swatch colour={rendered.get(r.part) ?? r.colour} />{' '}
                    {r.value === undefined ? 'no value' : r.colour}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td>
                {r.alarm ? (
                  <span className="state active">active alarm</span>
                ) : (
                  <span className="muted">none</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A colour sample (set through the DOM's style object, which the app's CSP allows). */
function Swatch({ colour }: { colour: string }) {
  const ref = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.style.backgroundColor = colour;
  }, [colour]);
  return <span ref={ref} className="swatch" aria-hidden="true" />;
}

interface DraftPart {
  twin: string;
  telemetry: string;
  min: string;
  max: string;
}

/** A number typed in a field; what is not one is sent as typed, so the server names the field. */
function numberOr(s: string): number | string {
  const n = Number(s);
  return s.trim() !== '' && Number.isFinite(n) ? n : s;
}

function BindingEditor(props: { id: string; binding: SceneBinding; version: number; onSaved: () => void }) {
  const { api } = useApp();
  const names = useMemo(() => Object.keys(props.binding.parts).sort(), [props.binding]);
  const [title, setTitle] = useState(props.binding.title);
  const [draft, setDraft] = useState<Record<string, DraftPart>>(() =>
    Object.fromEntries(
      names.map((n) => {
        const p = props.binding.parts[n]!;
        return [
          n,
          {
            twin: p.twin,
            telemetry: p.color?.telemetry ?? '',
            min: p.color ? String(p.color.min) : '',
            max: p.color ? String(p.color.max) : '',
          },
        ];
      }),
    ),
  );
  const [error, setError] = useState<Error | undefined>();
  const [saved, setSaved] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const fieldErrors = useMemo(() => {
    const m = new Map<string, string[]>();
    if (error instanceof ApiError)
      for (const p of error.problems) {
        const f = fieldOfPointer(p.pointer, names) ?? 'form';
        m.set(f, [...(m.get(f) ?? []), p.message]);
      }
    return m;
  }, [error, names]);

  const set = (part: string, key: keyof DraftPart, value: string) =>
    setDraft((d) => ({ ...d, [part]: { ...d[part]!, [key]: value } }));

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setSaved(undefined);
    const parts: Record<string, unknown> = {};
    for (const n of names) {
      const old = props.binding.parts[n]!;
      const d = draft[n]!;
      const { color: oldColor, ...rest } = old;
      parts[n] = {
        ...rest,
        twin: d.twin,
        ...(d.telemetry.trim()
          ? {
              color: {
                ...(oldColor?.palette ? { palette: oldColor.palette } : {}),
                telemetry: d.telemetry.trim(),
                min: numberOr(d.min),
                max: numberOr(d.max),
              },
            }
          : {}),
      };
    }
    try {
      const r = await api.put<SceneJson>(`/scenes/${encodeURIComponent(props.id)}/binding`, { title, parts });
      setError(undefined);
      setSaved(r.outcome === 'unchanged' ? 'Nothing changed.' : `Saved as version ${r.version}.`);
      if (r.outcome !== 'unchanged') props.onSaved();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const problemsOf = (field: string) => {
    const list = fieldErrors.get(field);
    if (!list) return undefined;
    return (
      <span className="field-error" id={`err-${field}`}>
        {list.join(' ')}
      </span>
    );
  };
  const invalid = (field: string) =>
    fieldErrors.has(field) ? { 'aria-invalid': true, 'aria-describedby': `err-${field}` } : {};

  return (
    <details className="scene-editor" open={error !== undefined || undefined}>
      <summary>Edit the binding (version {props.version})</summary>
      <form onSubmit={(e) => void save(e)} aria-label="Scene binding">
        {error && <ErrorBox error={error} title="The binding was not saved" />}
        {saved && (
          <p role="status" className="ok">
            {saved}
          </p>
        )}
        <label>
          Title <input value={title} onChange={(e) => setTitle(e.target.value)} {...invalid('title')} />
        </label>
        {problemsOf('title')}
        <table className="grid binding-table">
          <thead>
            <tr>
              <th scope="col">Part</th>
              <th scope="col">Twin</th>
              <th scope="col">Colour by telemetry</th>
              <th scope="col">Min</th>
              <th scope="col">Max</th>
            </tr>
          </thead>
          <tbody>
            {names.map((n) => (
              <tr key={n}>
                <th scope="row">
                  {n}
                  {problemsOf(`part:${n}`)}
                </th>
                <td>
                  <input
                    aria-label={`Twin of ${n}`}
                    value={draft[n]!.twin}
                    onChange={(e) => set(n, 'twin', e.target.value)}
                    {...invalid(`${n}/twin`)}
                  />
                  {problemsOf(`${n}/twin`)}
                </td>
                <td>
                  <input
                    aria-label={`Colour telemetry of ${n}`}
                    value={draft[n]!.telemetry}
                    onChange={(e) => set(n, 'telemetry', e.target.value)}
                    {...invalid(`${n}/telemetry`)}
                  />
                  {problemsOf(`${n}/telemetry`)}
                </td>
                <td>
                  <input
                    aria-label={`Minimum of ${n}`}
                    inputMode="decimal"
                    size={6}
                    value={draft[n]!.min}
                    onChange={(e) => set(n, 'min', e.target.value)}
                    {...invalid(`${n}/min`)}
                  />
                  {problemsOf(`${n}/min`)}
                </td>
                <td>
                  <input
                    aria-label={`Maximum of ${n}`}
                    inputMode="decimal"
                    size={6}
                    value={draft[n]!.max}
                    onChange={(e) => set(n, 'max', e.target.value)}
                    {...invalid(`${n}/max`)}
                  />
                  {problemsOf(`${n}/max`)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="submit" disabled={busy}>
          Save the binding
        </button>
      </form>
    </details>
  );
}
