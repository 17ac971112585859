/**
 * Runs one history import: streams a delimited file (LineSplitter → DelimitedReader), maps each row
 * to a twin, a time and telemetry values (HistoryMapping), checks the values against the twin's
 * model, and appends them to history in batches of `batchPoints` points, every point `once` (a
 * re-import stores nothing twice). At most one append is in flight while the next batch is read, and
 * the event loop is yielded after every chunk and batch, so devices keep being acknowledged.
 *
 * Bad rows are written aside (BadRowSink) with their reasons (file:line:column, a stable code) and
 * the job goes on; good rows are never lost. A row with some bad values keeps its good ones (stored)
 * and is written aside for the bad ones: fixed and imported again, only the missing values are added.
 * The job fails when the mapping does not fit the file or the twin's model, when the file cannot be
 * text at all (UTF-16), when the first `probeRows` rows are all refused, past `maxBadRows`, or when
 * the store cannot commit; what was stored stays stored. Pure: input, target, sink and clock are given.
 */
import { isTwinloopError, quote } from '../errors/errors.js';
import { LineSplitter } from '../jobs/import-format.js';
import type { HistoryImportProgress, JobError } from '../jobs/job-state.js';
import type { ModelLookup, Schema } from '../models/model-types.js';
import type { BadRowSink } from '../ports/import-io.js';
import type { HistoryPoint } from '../ports/storage-ports.js';
import { DelimitedReader, ROW_ERROR, type RowErrorCode, type TextRow } from './delimited-text.js';
import { bindMapping, parseIsoTime, type BoundMapping, type HistoryMapping } from './history-mapping.js';
import { textToValue } from './text-values.js';

export type { HistoryImportProgress };

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

export type { BadRowSink };

export interface HistoryImportRunOptions {
  /** The file's name, as reasons cite it. */
  fileName: string;
  input: AsyncIterable<Uint8Array>;
  totalBytes?: number;
  mapping: HistoryMapping;
  target: HistoryImportTarget;
  badRows: BadRowSink;
  /** Points per history append. */
  batchPoints: number;
  /** Most ms of reading and checking rows before the event loop is yielded. */
  sliceMs: number;
  maxRowBytes: number;
  /** More bad rows than this fail the job. */
  maxBadRows: number;
  /** When this many first rows are all refused the job fails (the mapping does not fit). Default 1000. */
  probeRows?: number;
  yieldNow: () => Promise<void>;
  cancelled: () => boolean;
  onProgress: (p: HistoryImportProgress) => void | Promise<void>;
  now: () => number;
}

export type HistoryImportOutcome =
  | { status: 'succeeded' | 'cancelled'; progress: HistoryImportProgress }
  | { status: 'failed'; progress: HistoryImportProgress; error: JobError };

/** An error of the input itself (not of the rows' handling). */
class InputError {
  constructor(readonly cause: unknown) {}
}

async function* tagged(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of input) yield chunk;
  } catch (e) {
    throw new InputError(e);
  }
}

class Stop {
  constructor(readonly outcome: 'cancelled' | JobError) {}
}

/** What is known of a twin seen in the file: the schemas of its mapped telemetry, or why its rows are refused. */
type TwinEntry = { schemas: Schema[] } | { refused: { code: RowErrorCode; message: string } };

const MAX_TWINS_CACHED = 100_000;

/**
 * @example
 * const r = await runHistoryImport({ fileName: 'train_FD001.txt', input: fs.createReadStream(file), mapping,
 *   target, badRows, batchPoints: 10_000, maxRowBytes: 1 << 20, maxBadRows: 1_000_000,
 *   yieldNow: () => new Promise((r) => setImmediate(r)), cancelled: () => false, onProgress, now: Date.now });
 */
export function runHistoryImport(o: HistoryImportRunOptions): Promise<HistoryImportOutcome> {
  return new HistoryImportRun(o).run();
}

class HistoryImportRun {
  private readonly progress: HistoryImportProgress = {
    bytesRead: 0,
    lines: 0,
    rows: 0,
    rowsStored: 0,
    points: 0,
    badRows: 0,
    twinsCreated: 0,
    rowsPerSecond: 0,
    elapsedMs: 0,
  };
  private readonly splitter: LineSplitter;
  private readonly reader: DelimitedReader;
  private bound: BoundMapping | undefined;
  private headerDone: boolean;
  private readonly twins = new Map<string, TwinEntry>();
  private readonly plans = new Map<string, Schema[]>();
  private points: HistoryPoint[] = [];
  private rowsInBatch = 0;
  private inFlight: Promise<void> | undefined;
  private storeBroken = false;
  private sliceStart = 0;
  private goodRows = 0;
  private firstReason: string | undefined;
  private readonly started: number;
  private readonly probeRows: number;

  constructor(private readonly o: HistoryImportRunOptions) {
    this.splitter = new LineSplitter(o.maxRowBytes);
    const m = o.mapping;
    this.reader = new DelimitedReader({
      delimiter: m.delimiter,
      encoding: m.encoding,
      maxRowBytes: o.maxRowBytes,
      ...(m.comment !== undefined ? { comment: m.comment } : {}),
    });
    this.headerDone = !m.header;
    if (o.totalBytes !== undefined) this.progress.totalBytes = o.totalBytes;
    this.started = o.now();
    this.probeRows = o.probeRows ?? 1000;
  }

  async run(): Promise<HistoryImportOutcome> {
    try {
      try {
        for await (const chunk of tagged(this.o.input)) {
          this.progress.bytesRead += chunk.length;
          for (const line of this.splitter.push(chunk)) {
            await this.onRows(this.reader.push(line));
            // A chunk holds thousands of rows: the event loop runs every sliceMs of work.
            if (this.o.now() - this.sliceStart >= this.o.sliceMs) {
              await this.o.yieldNow();
              this.sliceStart = this.o.now();
            }
          }
          this.progress.lines = this.splitter.lines;
          await this.report();
          if (this.o.cancelled()) throw new Stop('cancelled');
        }
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        // The input broke off (size or time budget, a vanished file): what was read stays stored.
        await this.flush(true);
        throw new Stop(jobError(e.cause, 'The input could not be read to its end'));
      }
      for (const line of this.splitter.end()) await this.onRows(this.reader.push(line));
      await this.onRows(this.reader.end());
      this.progress.lines = this.splitter.lines;
      await this.flush(true);
      if (!this.headerDone)
        throw new Stop({
          code: 'ValidationFailed',
          message: `${this.o.fileName} is empty: it has no header row.`,
        });
    } catch (e) {
      if (!(e instanceof Stop)) {
        // A failure of our own (the bad-rows file cannot be written…): the rows read are stored first.
        await this.settle();
        if (!this.storeBroken) await this.flush(true).catch(() => undefined);
        throw e;
      }
      await this.settle();
      // The rows read before the stop are stored (unless the store itself failed).
      if (!this.storeBroken) await this.flush(true).catch(() => undefined);
      await this.report(true);
      if (e.outcome === 'cancelled') return { status: 'cancelled', progress: this.progress };
      return { status: 'failed', progress: this.progress, error: e.outcome };
    }
    await this.report(true);
    return { status: 'succeeded', progress: this.progress };
  }

  private async onRows(rows: TextRow[]): Promise<void> {
    for (const row of rows) await this.onRow(row);
  }

  private async onRow(row: TextRow): Promise<void> {
    if (row.kind === 'error') {
      if (row.fatal) {
        await this.bad(row.raw, [this.reason(row.line, row.column, row.code, row.message)]);
        throw new Stop({ code: 'ValidationFailed', message: `${this.o.fileName}: ${row.message}.` });
      }
      if (!this.headerDone) {
        await this.bad(row.raw, [this.reason(row.line, row.column, row.code, row.message)]);
        throw new Stop({
          code: 'ValidationFailed',
          message: `${this.o.fileName}:${row.line}: the header row cannot be read: ${row.message}.`,
        });
      }
      this.progress.rows++;
      await this.refuse(row.raw, this.reason(row.line, row.column, row.code, row.message));
      return;
    }
    if (!this.headerDone) {
      this.headerDone = true;
      this.bind(row.fields, row.fields.length);
      await this.o.badRows.header(row.raw);
      return;
    }
    this.progress.rows++;
    const b = this.bound ?? this.bind(undefined, row.fields.length);
    if (row.fields.length !== b.width) {
      await this.refuse(
        row.raw,
        this.reason(
          row.line,
          Math.min(row.fields.length, b.width) + 1,
          ROW_ERROR.columns,
          `the row has ${row.fields.length} fields, the file has ${b.width} columns`,
        ),
      );
      return;
    }
    const f = row.fields;
    let twinId = '';
    for (const p of b.twinParts) {
      if (typeof p === 'string') twinId += p;
      else {
        const v = f[p]!.trim();
        if (v === '') {
          await this.refuse(
            row.raw,
            this.reason(row.line, p + 1, ROW_ERROR.twin, `the twin column '${b.names[p]}' is empty`),
          );
          return;
        }
        twinId += v;
      }
    }
    const ts = this.time(f[b.timeIndex]!);
    if (typeof ts === 'string') {
      await this.refuse(
        row.raw,
        this.reason(row.line, b.timeIndex + 1, ROW_ERROR.time, `column '${b.names[b.timeIndex]}': ${ts}`),
      );
      return;
    }
    const twin = await this.twin(twinId, f);
    if ('refused' in twin) {
      await this.refuse(row.raw, this.reason(row.line, undefined, twin.refused.code, twin.refused.message));
      return;
    }
    const reasons: string[] = [];
    let stored = 0;
    const { workspace } = this.o.target;
    for (let i = 0; i < b.telemetry.length; i++) {
      const t = b.telemetry[i]!;
      const text = f[t.index]!;
      if (text.trim() === '') continue; // an empty field is no value, not an error
      const v = textToValue(text, twin.schemas[i]!);
      if (!v.ok) {
        reasons.push(
          this.reason(
            row.line,
            t.index + 1,
            ROW_ERROR.value,
            `column '${t.column}' (telemetry ${t.path}): ${v.message}`,
          ),
        );
        continue;
      }
      this.points.push({
        workspace,
        twinId,
        path: t.path,
        kind: 'telemetry',
        ts,
        value: v.value as HistoryPoint['value'],
        once: true,
      });
      stored++;
    }
    if (stored > 0) {
      this.rowsInBatch++;
      this.goodRows++;
    }
    if (reasons.length) await this.refuse(row.raw, ...reasons);
    if (this.points.length >= this.o.batchPoints) await this.flush(false);
  }

  private bind(header: string[] | undefined, width: number): BoundMapping {
    try {
      this.bound = bindMapping(this.o.mapping, header, width);
      return this.bound;
    } catch (e) {
      throw new Stop(jobError(e, 'The mapping does not fit the file'));
    }
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
          this.progress.twinsCreated++;
          modelId = create.model;
        } catch (e) {
          if (isTwinloopError(e) && (e.code === 'StorageError' || e.code === 'StorageCorrupt'))
            throw new Stop(jobError(e, 'A twin could not be created'));
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

  /** The schemas of the mapped telemetry in a model. @throws Stop when the model lacks one */
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
      throw new Stop({
        code: 'ValidationFailed',
        message: `The model ${modelId} of twin '${quote(twinId, 80)}' has no telemetry for column(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}: fix the mapping's telemetry.`,
      });
    }
    this.plans.set(modelId, schemas);
    return schemas;
  }

  private reason(line: number, column: number | undefined, code: RowErrorCode, message: string): string {
    return `${this.o.fileName}:${line}${column !== undefined ? `:${column}` : ''} ${code}: ${message}`;
  }

  private async refuse(raw: readonly Uint8Array[], ...reasons: string[]): Promise<void> {
    this.firstReason ??= reasons[0];
    await this.bad(raw, reasons);
    if (this.progress.badRows > this.o.maxBadRows) {
      throw new Stop({
        code: 'LimitExceeded',
        message: `More than ${this.o.maxBadRows} bad rows (jobs.maxBadRows); the import stopped. The first: ${this.firstReason}`,
      });
    }
    if (
      this.goodRows === 0 &&
      this.progress.rows >= this.probeRows &&
      this.progress.badRows >= this.probeRows
    ) {
      throw new Stop({
        code: 'ValidationFailed',
        message: `The first ${this.progress.rows} rows were all refused: does the mapping fit the file? The first: ${this.firstReason}`,
      });
    }
  }

  private async bad(raw: readonly Uint8Array[], reasons: readonly string[]): Promise<void> {
    this.progress.badRows++;
    await this.o.badRows.write(raw, reasons);
  }

  /** Starts an append of the gathered points (after the one in flight commits); `last` waits for it. */
  private async flush(last: boolean): Promise<void> {
    if (this.points.length > 0) {
      const points = this.points;
      const rows = this.rowsInBatch;
      this.points = [];
      this.rowsInBatch = 0;
      await this.waitInFlight();
      this.inFlight = this.o.target.append(points).then(() => {
        this.progress.points += points.length;
        this.progress.rowsStored += rows;
      });
      await this.o.yieldNow();
      this.sliceStart = this.o.now();
    }
    if (last) await this.waitInFlight();
  }

  private async waitInFlight(): Promise<void> {
    const p = this.inFlight;
    this.inFlight = undefined;
    if (!p) return;
    try {
      await p;
    } catch (e) {
      this.storeBroken = true;
      throw new Stop(jobError(e, 'A batch could not be committed'));
    }
  }

  /** Waits for the append in flight, whatever happens (its failure is already the outcome). */
  private async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    this.inFlight = undefined;
  }

  private async report(final = false): Promise<void> {
    const p = this.progress;
    p.elapsedMs = this.o.now() - this.started;
    p.rowsPerSecond = p.elapsedMs > 0 ? Math.round((p.rows * 1000) / p.elapsedMs) : 0;
    if (final || p.lines > 0) await this.o.onProgress({ ...p });
  }
}

function jobError(e: unknown, what: string): JobError {
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
