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
import { LineSplitter } from '../jobs/import-format.js';
import type { HistoryImportProgress, JobError } from '../jobs/job-state.js';
import type { BadRowSink } from '../ports/import-io.js';
import type { HistoryPoint } from '../ports/storage-ports.js';
import { DelimitedReader, type RowErrorCode, type TextRow } from './delimited-text.js';
import type { HistoryMapping } from './history-mapping.js';
import { jobError, MappingStop, RowMapper, type HistoryImportTarget } from './history-row-mapper.js';

export type { HistoryImportProgress, HistoryImportTarget };

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
  private headerDone: boolean;
  private readonly mapper: RowMapper;
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
    this.mapper = new RowMapper({ fileName: o.fileName, mapping: m, target: o.target });
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
    try {
      for (const row of rows) await this.onRow(row);
    } catch (e) {
      throw e instanceof MappingStop ? new Stop(e.error) : e;
    }
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
      this.mapper.bind(row.fields, row.fields.length);
      await this.o.badRows.header(row.raw);
      return;
    }
    this.progress.rows++;
    const m = await this.mapper.map(row.line, row.fields);
    this.progress.twinsCreated = this.mapper.twinsCreated;
    if (m.points.length > 0) {
      for (const p of m.points) this.points.push(p);
      this.rowsInBatch++;
      this.goodRows++;
    }
    if (m.reasons.length) await this.refuse(row.raw, ...m.reasons);
    if (this.points.length >= this.o.batchPoints) await this.flush(false);
  }

  private reason(line: number, column: number | undefined, code: RowErrorCode, message: string): string {
    return this.mapper.reason(line, column, code, message);
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
