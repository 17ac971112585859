/**
 * One row of a history import as points: its twin (from the id template; created from the mapping's
 * model when missing and asked to), its time (ISO, epoch or cycle) and its values, each checked
 * against the schema of its telemetry in the twin's model. Refused rows and values come back as
 * reasons (`file:line:column Code: reason`); what makes the whole import pointless (a column the
 * file lacks, a telemetry the model lacks, a store that cannot create twins) throws MappingStop.
 * Pure: the target is given.
 */
import { isTwinloopError, quote } from '../errors/errors.js';
import type { JobError } from '../jobs/job-state.js';
import type { ModelLookup, Schema } from '../models/model-types.js';
import type { HistoryPoint } from '../ports/storage-ports.js';
import { ROW_ERROR, type RowErrorCode } from './delimited-text.js';
import { bindMapping, parseIsoTime, type BoundMapping, type HistoryMapping } from './history-mapping.js';
import { textToValue } from './text-values.js';

/** Where a history import writes: the workspace's models, twins and history. */
export interface HistoryImportTarget {
  workspace: string;
  models: ModelLookup;
  /** The model of a twin, or undefined when there is no such twin. */
  twinModel(id: string): string | undefined;
  /** Creates a twin (through the twin service: validated). Rejects with the service's error. */
  createTwin(id: string, body: Record<string, unknown>): Promise<unknown>;
  /** Appends points durably. @throws StorageError */
  append(points: readonly HistoryPoint[]): Promise<void>;
}

/** The import cannot go on: the job fails with this error. */
export class MappingStop extends Error {
  constructor(readonly error: JobError) {
    super(error.message);
  }
}

/** A row's points, and the reasons of what was refused (all of it when there are no points). */
export interface MappedRow {
  points: HistoryPoint[];
  reasons: string[];
}

/** What is known of a twin seen in the file: the schemas of its mapped telemetry, or why its rows are refused. */
type TwinEntry = { schemas: Schema[] } | { refused: { code: RowErrorCode; message: string } };

const MAX_TWINS_CACHED = 100_000;

const refused = (reason: string): MappedRow => ({ points: [], reasons: [reason] });

/**
 * @example
 * const mapper = new RowMapper({ fileName: 'train_FD001.txt', mapping, target });
 * mapper.bind(undefined, 26);
 * const { points, reasons } = await mapper.map(1, ['1', '1', '-0.0007', …]);
 */
export class RowMapper {
  bound: BoundMapping | undefined;
  twinsCreated = 0;
  private readonly twins = new Map<string, TwinEntry>();
  private readonly plans = new Map<string, Schema[]>();

  constructor(
    private readonly o: { fileName: string; mapping: HistoryMapping; target: HistoryImportTarget },
  ) {}

  /** Binds the mapping to the file's columns. @throws MappingStop when a column is not there */
  bind(header: string[] | undefined, width: number): BoundMapping {
    try {
      this.bound = bindMapping(this.o.mapping, header, width);
      return this.bound;
    } catch (e) {
      throw new MappingStop(jobError(e, 'The mapping does not fit the file'));
    }
  }

  /** The row's points and reasons. @throws MappingStop */
  async map(line: number, fields: string[]): Promise<MappedRow> {
    const b = this.bound ?? this.bind(undefined, fields.length);
    if (fields.length !== b.width) {
      return refused(
        this.reason(
          line,
          Math.min(fields.length, b.width) + 1,
          ROW_ERROR.columns,
          `the row has ${fields.length} fields, the file has ${b.width} columns`,
        ),
      );
    }
    const f = fields;
    let twinId = '';
    for (const p of b.twinParts) {
      if (typeof p === 'string') twinId += p;
      else {
        const v = f[p]!.trim();
        if (v === '') {
          return refused(
            this.reason(line, p + 1, ROW_ERROR.twin, `the twin column '${b.names[p]}' is empty`),
          );
        }
        twinId += v;
      }
    }
    const ts = this.time(f[b.timeIndex]!);
    if (typeof ts === 'string') {
      return refused(
        this.reason(line, b.timeIndex + 1, ROW_ERROR.time, `column '${b.names[b.timeIndex]}': ${ts}`),
      );
    }
    const twin = await this.twin(twinId, f);
    if ('refused' in twin) {
      return refused(this.reason(line, undefined, twin.refused.code, twin.refused.message));
    }
    const reasons: string[] = [];
    const points: HistoryPoint[] = [];
    const { workspace } = this.o.target;
    for (let i = 0; i < b.telemetry.length; i++) {
      const t = b.telemetry[i]!;
      const text = f[t.index]!;
      if (text.trim() === '') continue; // an empty field is no value, not an error
      const v = textToValue(text, twin.schemas[i]!);
      if (!v.ok) {
        reasons.push(
          this.reason(
            line,
            t.index + 1,
            ROW_ERROR.value,
            `column '${t.column}' (telemetry ${t.path}): ${v.message}`,
          ),
        );
        continue;
      }
      points.push({
        workspace,
        twinId,
        path: t.path,
        kind: 'telemetry',
        ts,
        value: v.value as HistoryPoint['value'],
        once: true,
      });
    }
    return { points, reasons };
  }

  /** A reason line: `file:line[:column] Code: message`. */
  reason(line: number, column: number | undefined, code: RowErrorCode, message: string): string {
    return `${this.o.fileName}:${line}${column !== undefined ? `:${column}` : ''} ${code}: ${message}`;
  }

  /** ms since epoch, or why the text is not a time. */
  private time(text: string): number | string {
    const t = text.trim();
    const m = this.o.mapping.time;
    let ts: number | undefined;
    if (m.format === 'iso') ts = parseIsoTime(t);
    else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
      const n = Number(t);
      ts =
        m.format === 'epoch-ms'
          ? n
          : m.format === 'epoch-s'
            ? n * 1000
            : m.origin! + n * m.stepSeconds! * 1000;
      ts = Math.round(ts);
    }
    if (ts === undefined)
      return t === ''
        ? 'the time is empty'
        : `'${quote(t, 40)}' is not ${m.format === 'iso' ? 'an ISO 8601 time' : m.format === 'cycle' ? 'a cycle number' : `a time in ${m.format}`}`;
    if (!(Math.abs(ts) <= 8.64e15)) return `'${quote(t, 40)}' is out of the range of times`;
    return ts;
  }

  /** The twin's entry: created from the mapping's model when missing and asked to. */
  private async twin(id: string, fields: string[]): Promise<TwinEntry> {
    const known = this.twins.get(id);
    if (known) return known;
    if (this.twins.size >= MAX_TWINS_CACHED) this.twins.clear();
    let modelId = this.o.target.twinModel(id);
    let entry: TwinEntry | undefined;
    if (modelId === undefined) {
      const create = this.o.mapping.createTwins;
      if (!create) {
        entry = {
          refused: {
            code: ROW_ERROR.twin,
            message: `there is no twin '${quote(id, 80)}' (set createTwins in the mapping to create it)`,
          },
        };
      } else {
        // The model must have the mapped telemetry before a twin is made of it.
        if (this.o.target.models.getInterface(create.model)) this.plan(id, create.model);
        const body: Record<string, unknown> = { $metadata: { $model: create.model } };
        const iface = this.o.target.models.getInterface(create.model);
        for (const p of this.bound!.properties) {
          const info = iface?.contents.get(p.name);
          const text = fields[p.index]!;
          if (info?.kind !== 'Property' || text.trim() === '') continue; // the twin service reports unknown ones
          const v = textToValue(text, info.schema);
          body[p.name] = v.ok ? v.value : text;
        }
        try {
          await this.o.target.createTwin(id, body);
          this.twinsCreated++;
          modelId = create.model;
        } catch (e) {
          if (isTwinloopError(e) && (e.code === 'StorageError' || e.code === 'StorageCorrupt'))
            throw new MappingStop(jobError(e, 'A twin could not be created'));
          // Created meanwhile (by a device, an API call)? Then use it.
          modelId = this.o.target.twinModel(id);
          if (modelId === undefined) {
            const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
            entry = {
              refused: {
                code: ROW_ERROR.twinCreate,
                message: `twin '${quote(id, 80)}' could not be created: ${message}`,
              },
            };
          }
        }
      }
    }
    entry ??= { schemas: this.plan(id, modelId!) };
    this.twins.set(id, entry);
    return entry;
  }

  /** The schemas of the mapped telemetry in a model. @throws MappingStop when the model lacks one */
  private plan(twinId: string, modelId: string): Schema[] {
    const known = this.plans.get(modelId);
    if (known) return known;
    const models = this.o.target.models;
    const missing: string[] = [];
    const schemas = this.bound!.telemetry.map((t) => {
      let iface = models.getInterface(modelId);
      if (iface && t.component !== undefined) {
        const c = iface.contents.get(t.component);
        iface = c?.kind === 'Component' ? models.getInterface(c.schema) : undefined;
      }
      const c = iface?.contents.get(t.name);
      if (c?.kind !== 'Telemetry') {
        missing.push(`'${t.column}' → ${t.path}`);
        return { kind: 'primitive', name: 'string' } as Schema;
      }
      return c.schema;
    });
    if (missing.length) {
      throw new MappingStop({
        code: 'ValidationFailed',
        message: `The model ${modelId} of twin '${quote(twinId, 80)}' has no telemetry for column(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}: fix the mapping's telemetry.`,
      });
    }
    this.plans.set(modelId, schemas);
    return schemas;
  }
}

/** A job error from anything thrown: TwinloopErrors keep their code (and their problems as details). */
export function jobError(e: unknown, what: string): JobError {
  if (isTwinloopError(e)) {
    const out: JobError = { code: e.code, message: e.message };
    if (e.problems.length)
      out.details = e.problems
        .slice(0, 20)
        .map((p) => ({ code: p.code, message: p.pointer ? `${p.pointer}: ${p.message}` : p.message }));
    return out;
  }
  return { code: 'InternalError', message: `${what}: ${e instanceof Error ? e.message : String(e)}` };
}
