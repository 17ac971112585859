/**
 * The twin page's "Remaining useful life" panel: what the twin's active RUL model says now
 * (GET /digitaltwins/{id}/rul, docs/predictive-maintenance.md), with the time it means, its band and
 * the model's validation figures. Nothing is shown (and nothing asked of the RUL route) for a twin
 * whose model, or a model it extends, has no active RUL model.
 */
import { useApp } from '../app-context.js';
import { ApiError, twinPath } from '../api/client.js';
import { usePoll } from './use-poll.js';
import { rulView, type RulAnswer } from '../lib/rul-view.js';

interface MlModelJson {
  id: string;
  version: number;
  target: string;
  metrics?: { validationRmse?: number; validationScore?: number };
}

/** `lineage`: the twin's model and every interface it extends (an RUL model's target may be any). */
export function TwinRul({ twinId, lineage }: { twinId: string; lineage: ReadonlySet<string> }) {
  const { api } = useApp();
  const rul = usePoll(
    async () => {
      const active = await api.get<{ value: MlModelJson[] }>('/ml/models?kind=rul&status=active&limit=100');
      const model = active.value.find((m) => lineage.has(m.target));
      if (!model) return undefined; // no active RUL model for this twin: the panel has nothing to say
      try {
        return { answer: await api.get<RulAnswer>(twinPath(twinId, '/rul')), model };
      } catch (e) {
        // Promoted or rolled back since the list was read: nothing to say until the next poll.
        if (e instanceof ApiError && e.status === 404) return undefined;
        throw e;
      }
    },
    60_000,
    [twinId, [...lineage].join('\n')],
  );
  if (rul.error)
    return (
      <section aria-labelledby="rul-title">
        <h2 id="rul-title">Remaining useful life</h2>
        <p className="muted">No prediction: {rul.error.message}</p>
      </section>
    );
  if (!rul.data) return null;
  const { answer, model } = rul.data;
  const v = rulView(answer);
  const m = answer.modelId === model.id ? model.metrics : undefined;
  return (
    <section aria-labelledby="rul-title">
      <h2 id="rul-title">Remaining useful life</h2>
      <div className="cards wide">
        <div className={`card${v.due ? ' bad' : ''}`} role="group" aria-label="Remaining useful life">
          <span className="card-title">{v.at}</span>
          <output className="card-value">{v.value}</output>
          {v.time && <span className="card-note">{v.time}</span>}
          {v.band && <span className="card-note">{v.band}</span>}
        </div>
        <div className="card" role="group" aria-label="RUL model">
          <span className="card-title">Model</span>
          <span>
            <code>{answer.modelId}</code> v{answer.version}
          </span>
          {m?.validationRmse !== undefined && (
            <span className="card-note">
              held-out assets: RMSE {m.validationRmse.toFixed(1)} steps
              {m.validationScore !== undefined ? `, PHM08 score ${m.validationScore.toFixed(0)}` : ''}
            </span>
          )}
        </div>
      </div>
    </section>
  );
}
