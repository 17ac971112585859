/**
 * `twinloop train rul`: trains a remaining-useful-life model from the history of twins that ran to
 * failure (POST /ml/training), shows its progress (a bar with the phase and time left on a terminal,
 * a line every few seconds otherwise) and prints the model it stored with its validation figures.
 * `twinloop rul <twin>`: the twin's remaining useful life now (GET /digitaltwins/{id}/rul).
 * docs/predictive-maintenance.md.
 */
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseDuration } from '../../sim/whatif/duration.js';
import type { RulTrainingJob } from '../../analytics/rul/rul-training-service.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { printObject, roundNumber, shortDuration } from './output.js';

interface TrainOptions {
  target: string;
  sensors?: string;
  settings?: string;
  step?: string;
  window?: string;
  cap?: string;
  regimes?: string;
  validation?: string;
  seed?: string;
  twins?: string;
  prefix?: string;
  failedAtProperty?: string;
  promote?: boolean;
  note?: string;
  wait: boolean;
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n))
    throw new TwinloopError('BadRequest', `${flag} must be a number, not '${v}'.`);
  return n;
}

/** The request body of the flags (the server checks it against the model). */
export function trainingBody(o: TrainOptions): Record<string, unknown> {
  let stepSeconds: number | undefined;
  if (o.step !== undefined) {
    stepSeconds = parseDuration(o.step) ?? number(o.step, '--step');
    if (stepSeconds === undefined || stepSeconds <= 0)
      throw new TwinloopError(
        'BadRequest',
        `--step must be a duration such as 1h or 3600s, not '${o.step}'.`,
      );
  }
  const body: Record<string, unknown> = { kind: 'rul', target: o.target };
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) body[k] = v;
  };
  set('sensors', list(o.sensors));
  set('settings', list(o.settings));
  set('stepSeconds', stepSeconds);
  set('window', number(o.window, '--window'));
  set('cap', number(o.cap, '--cap'));
  set(
    'regimes',
    o.regimes === undefined || o.regimes === 'auto' ? o.regimes : number(o.regimes, '--regimes'),
  );
  set('validationFraction', number(o.validation, '--validation'));
  set('seed', number(o.seed, '--seed'));
  set('twins', list(o.twins));
  set('twinIdPrefix', o.prefix);
  set('failedAtProperty', o.failedAtProperty);
  if (o.promote) body.promote = true;
  set('note', o.note);
  return body;
}

export function trainingProgress(job: RulTrainingJob, width = 30): string {
  const p = Math.max(0, Math.min(1, job.progress.fraction));
  const done = Math.round(p * width);
  const eta = job.progress.etaSeconds !== undefined ? `, ${shortDuration(job.progress.etaSeconds)} left` : '';
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${String(Math.floor(p * 100)).padStart(3)}%  ${job.progress.phase}${job.progress.message ? `: ${job.progress.message}` : ''}${eta}`;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

export function registerTrain(program: Command, { run }: CliKit): void {
  const train = program.command('train').description('train models from twin history');
  withOutput(
    train
      .command('rul')
      .description('train a remaining-useful-life model from twins that ran to failure')
      .requiredOption(
        '--target <dtmi>',
        'the model whose twins to learn from (twins of models extending it too)',
      )
      .option(
        '--sensors <names>',
        'telemetry to learn from, comma separated (default: every numeric telemetry but the settings)',
      )
      .option('--settings <names>', 'telemetry giving the operating condition (clustered into regimes)')
      .option(
        '--step <duration>',
        'one step of the resampled history, e.g. 1h (default: the readings’ median spacing)',
      )
      .option('--window <steps>', 'steps in one input window (default 150)')
      .option('--cap <steps>', 'the training target is min(cap, steps to failure) (default 125)')
      .option('--regimes <n|auto>', 'operating regimes (default auto)')
      .option('--validation <share>', 'share of twins held out for validation (default 0.2)')
      .option('--seed <n>', 'seed of every random choice (default 1)')
      .option('--twins <ids>', 'the twins to learn from, comma separated (default: every twin of the target)')
      .option('--prefix <text>', 'only twins whose id starts with this')
      .option(
        '--failed-at-property <name>',
        'a twin property with the failure time: twins without it are left out',
      )
      .option('--promote', 'make the model the active one when it is stored')
      .option('--note <text>', 'a note stored with the model')
      .option('--no-wait', 'start the training and return'),
  ).action(
    run(async (o: TrainOptions, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      let job = (await client.request('POST', '/ml/training', { body: trainingBody(o) }))
        .body as RulTrainingJob;
      const path = `/ml/training/${encodeURIComponent(job.id)}`;
      if (!o.wait) {
        printObject(job, formatOf(cmd));
        return;
      }
      const tty = process.stderr.isTTY === true;
      const cancel = (): void => {
        void client.request('DELETE', path).finally(() => {
          process.stderr.write('\ncancelled\n');
          process.exit(130);
        });
      };
      process.once('SIGINT', cancel);
      let lastLine = 0;
      try {
        while (!FINISHED.has(job.status)) {
          if (tty) process.stderr.write(`\r${trainingProgress(job)}\u001b[K`);
          else if (Date.now() - lastLine >= 5000) {
            lastLine = Date.now();
            process.stderr.write(`${trainingProgress(job)}\n`);
          }
          await new Promise((r) => setTimeout(r, 500));
          job = (await client.request('GET', path)).body as RulTrainingJob;
        }
        process.stderr.write(tty ? `\r${trainingProgress(job)}\u001b[K\n` : `${trainingProgress(job)}\n`);
      } finally {
        process.removeListener('SIGINT', cancel);
      }
      if (job.status !== 'succeeded' || !job.result)
        throw new TwinloopError(
          job.status === 'cancelled' ? 'ServiceUnavailable' : 'BadRequest',
          `The training ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}.`,
        );
      const format = formatOf(cmd);
      if (format === 'json') {
        printObject(job, format);
        return;
      }
      const r = job.result;
      const m = r.metrics;
      const took = (Date.parse(job.finishedAt!) - Date.parse(job.startedAt!)) / 1000;
      const lines = [
        `model ${r.modelId} (version ${r.version} of ${job.request.target})${r.promoted ? ', active now' : ' — promote it with: twinloop ml promote ' + r.modelId}`,
        `learned from ${m.trainingAssets} twins (${m.trainingRows} steps), validated on ${m.validationAssets} held-out twins in ${shortDuration(took)}`,
        `validation RMSE ${roundNumber(m.validationRmse, 3)} steps, PHM08 score ${roundNumber(m.validationScore, 4)} (${m.validationMethod})`,
        ...m.notes.map((n) => `note: ${n}`),
        ...(r.skipped.length
          ? [`left out: ${r.skipped.map((s) => `${s.twinId} (${s.reason})`).join('; ')}`]
          : []),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }),
  );

  withOutput(
    program
      .command('rul <twin>')
      .description("a twin's remaining useful life now, predicted from its history")
      .option('--model <id>', 'a registry model id (default: the active RUL model of the twin’s model)'),
  ).action(
    run(async (twin: string, o: { model?: string }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const q = o.model !== undefined ? `?model=${encodeURIComponent(o.model)}` : '';
      const body = (await client.request('GET', `/digitaltwins/${encodeURIComponent(twin)}/rul${q}`))
        .body as {
        rul: number;
        lower?: number;
        upper?: number;
        modelId: string;
        version: number;
        step: number;
      };
      const format = formatOf(cmd);
      if (format === 'json') {
        printObject(body, format);
        return;
      }
      const interval =
        body.lower !== undefined && body.upper !== undefined
          ? ` (${roundNumber(body.lower, 3)} to ${roundNumber(body.upper, 3)})`
          : '';
      process.stdout.write(
        `${twin}: ${roundNumber(body.rul, 3)} steps left${interval} at its step ${body.step}, by ${body.modelId} v${body.version}\n`,
      );
    }),
  );
}
