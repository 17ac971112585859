/**
 * `twinloop ml [list|show|compare|promote|rollback|delete|log]`: the registry of trained models
 * (docs/ml-models.md), a client of the /ml routes. `promote` and `rollback` act as the user given by
 * --user (the Twinloop-User header; default the login name), with an optional --reason.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printObject, printRows, type Row } from './output.js';

const LIST_COLUMNS = [
  { key: 'id' },
  { key: 'version' },
  { key: 'status' },
  { key: 'target' },
  { key: 'createdAt' },
  { key: 'rmse', title: 'validation RMSE' },
  { key: 'score', title: 'PHM08 score' },
  { key: 'codeVersion' },
];

function user(o: { user?: string }): string {
  if (o.user) return o.user;
  try {
    return os.userInfo().username;
  } catch {
    return 'anonymous';
  }
}

interface ModelJson extends Row {
  id: string;
  version: number;
  status: string;
  target: string;
  metrics?: { validationRmse?: unknown; validationScore?: unknown };
}

function listRow(m: ModelJson): Row {
  return {
    id: m.id,
    version: m.version,
    status: m.status,
    target: m.target,
    createdAt: m.createdAt,
    rmse: m.metrics?.validationRmse,
    score: m.metrics?.validationScore,
    codeVersion: m.codeVersion,
  };
}

const path = (id: string, rest = ''): string => `/ml/models/${encodeURIComponent(id)}${rest}`;

/** A line saying what changed; JSON only when --format json is given (a script's choice). */
function printActivation(body: unknown, cmd: Command, verb: string): void {
  if (cmd.optsWithGlobals<{ format?: string }>().format === 'json') return printObject(body, 'json');
  const r = body as { model: ModelJson; previous?: ModelJson; changed: boolean };
  if (!r.changed) process.stdout.write(`${r.model.id} (v${r.model.version}) is already active\n`);
  else
    process.stdout.write(
      `${r.model.id} (v${r.model.version}) ${verb}${r.previous ? `; ${r.previous.id} (v${r.previous.version}) retired` : ''}\n`,
    );
}

export function registerMl(program: Command, { run }: CliKit): void {
  const ml = program
    .command('ml')
    .description('trained ML models (RUL): list, show, compare, promote, roll back, delete');

  withOutput(
    ml
      .command('list', { isDefault: true })
      .description('list models, newest first')
      .option('--target <dtmi>', 'models of one DTDL interface')
      .option('--kind <kind>', 'models of one kind (rul)')
      .option('--status <status>', 'candidate, active or retired')
      .option('--limit <n>', 'how many per page', '50')
      .option('--all', 'every page'),
  ).action(
    run(
      async (
        o: { target?: string; kind?: string; status?: string; limit: string; all?: boolean },
        cmd: Command,
      ) => {
        const client = new ApiClient(clientOptions(cmd));
        const models: ModelJson[] = [];
        let query: Record<string, string | undefined> = {
          target: o.target,
          kind: o.kind,
          status: o.status,
          limit: o.limit,
        };
        for (;;) {
          const body = (await client.request('GET', '/ml/models', { query })).body as {
            value: ModelJson[];
            nextLink?: string;
          };
          models.push(...body.value);
          if (!body.nextLink) break;
          if (!o.all) {
            process.stderr.write(`${models.length} shown; more with --all\n`);
            break;
          }
          query = {
            ...query,
            continuationToken: new URL(body.nextLink).searchParams.get('continuationToken') ?? undefined,
          };
        }
        printRows(models.map(listRow), formatOf(cmd), { columns: LIST_COLUMNS, json: models });
      },
    ),
  );

  withOutput(
    ml.command('show <id>').description('show one model').option('--artefact', 'with its artefact (JSON)'),
  ).action(
    run(async (id: string, o: { artefact?: boolean }, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('GET', path(id), {
        query: { artefact: o.artefact ? 'true' : undefined },
      });
      const format = formatOf(cmd);
      if (format !== 'table') return printObject(res.body, format);
      const m = res.body as Row;
      printObject(
        Object.fromEntries(
          Object.entries(m).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v]),
        ),
        'table',
      );
    }),
  );

  withOutput(
    ml.command('compare <a> <b>').description('compare two models: metrics, features, training range'),
  ).action(
    run(async (a: string, b: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request(
        'GET',
        path(a, `/compare/${encodeURIComponent(b)}`),
      );
      const format = formatOf(cmd);
      if (format === 'json') return printObject(res.body, 'json');
      const c = res.body as {
        a: ModelJson;
        b: ModelJson;
        sameTarget: boolean;
        metrics: { name: string; a?: unknown; b?: unknown; difference?: number; better?: string }[];
        features: { pointer: string; a?: unknown; b?: unknown }[];
        trainingRange: { pointer: string; a?: unknown; b?: unknown }[];
        truncated: number;
        codeVersion?: { a: string; b: string };
      };
      const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : v);
      const a1 = `a: ${c.a.id}`;
      const b1 = `b: ${c.b.id}`;
      if (!c.sameTarget)
        process.stdout.write(`note: the models are for different targets (${c.a.target}, ${c.b.target})\n`);
      const rows: Row[] = c.metrics.map((m) => ({
        what: `metrics ${m.name}`,
        a: cell(m.a),
        b: cell(m.b),
        difference: m.difference,
        better: m.better,
      }));
      for (const d of c.features) rows.push({ what: `features ${d.pointer}`, a: cell(d.a), b: cell(d.b) });
      for (const d of c.trainingRange)
        rows.push({ what: `trainingRange ${d.pointer}`, a: cell(d.a), b: cell(d.b) });
      if (c.codeVersion) rows.push({ what: 'codeVersion', a: c.codeVersion.a, b: c.codeVersion.b });
      printRows(rows, format, {
        columns: [
          { key: 'what' },
          { key: 'a', title: a1 },
          { key: 'b', title: b1 },
          { key: 'difference' },
          { key: 'better' },
        ],
      });
      if (c.truncated) process.stderr.write(`${c.truncated} more differences not shown\n`);
    }),
  );

  withOutput(
    ml
      .command('promote <id>')
      .description("make a model its target's active one (the previous one is retired)")
      .option('--reason <text>', 'why (kept in the activation log)')
      .option('--user <name>', 'who acts (default: your login name)'),
  ).action(
    run(async (id: string, o: { reason?: string; user?: string }, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('POST', path(id, '/promote'), {
        body: o.reason === undefined ? {} : { reason: o.reason },
        headers: { 'twinloop-user': user(o) },
      });
      printActivation(res.body, cmd, 'is active');
    }),
  );

  withOutput(
    ml
      .command('rollback')
      .description('re-activate the model that was active before the current one')
      .requiredOption('--target <dtmi>', 'the DTDL interface whose model to roll back')
      .option('--kind <kind>', 'the kind of model', 'rul')
      .option('--reason <text>', 'why (kept in the activation log)')
      .option('--user <name>', 'who acts (default: your login name)'),
  ).action(
    run(async (o: { target: string; kind: string; reason?: string; user?: string }, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('POST', '/ml/rollback', {
        body: { kind: o.kind, target: o.target, ...(o.reason !== undefined ? { reason: o.reason } : {}) },
        headers: { 'twinloop-user': user(o) },
      });
      printActivation(res.body, cmd, 'is active again');
    }),
  );

  withClient(ml.command('delete <id>').description('delete a model that is not active')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request('DELETE', path(id));
      process.stdout.write(`${id}: deleted\n`);
    }),
  );

  withOutput(
    ml
      .command('log')
      .description('the activation log (promotions and rollbacks), newest first')
      .option('--target <dtmi>', 'of one DTDL interface')
      .option('--kind <kind>', 'of one kind (rul)')
      .option('--limit <n>', 'how many', '50'),
  ).action(
    run(async (o: { target?: string; kind?: string; limit: string }, cmd: Command) => {
      const body = (
        await new ApiClient(clientOptions(cmd)).request('GET', '/ml/activations', {
          query: { target: o.target, kind: o.kind, limit: o.limit },
        })
      ).body as { value: Row[] };
      printRows(body.value, formatOf(cmd), {
        columns: [
          { key: 'at' },
          { key: 'action' },
          { key: 'target' },
          { key: 'version' },
          { key: 'fromVersion', title: 'from version' },
          { key: 'by' },
          { key: 'reason' },
          { key: 'modelId' },
        ],
        json: body.value,
      });
    }),
  );
}
