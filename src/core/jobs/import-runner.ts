/**
 * Runs one import job: streams the input through LineSplitter and ImportFileReader, uploads the
 * Models section as one batch (the model service checks them together), then writes twins and
 * relationships in batches (started together, so the twin service's group commit puts a batch's
 * writes in few store transactions), yielding to the event loop between batches so devices keep being acknowledged. A bad line or item is logged with its line number,
 * code and reason and the job goes on; good items are never lost (what was written stays written,
 * ADT does not roll back either). The job fails only when the file cannot be read as an import file
 * (no header), the Models batch is refused (twins would have no models), or the input breaks off.
 * Cancel is honoured at the next batch. Pure: input, log, writes and clock are given.
 */
import { isTwinloopError, type Problem } from '../errors/errors.js';
import { ImportFileReader, LineSplitter, type ImportLine, type LineError } from './import-format.js';
import type { ImportProgress, JobError } from './job-state.js';
import type { ImportLogEntry, ImportLogSink } from '../ports/import-io.js';

/** Where the job writes: the model, twin and relationship services of the workspace. */
export interface ImportTarget {
  hasModel(id: string): boolean;
  /** Uploads models, all or nothing. @throws DTDLParserError / ModelAlreadyExists with problems `/index/...` */
  addModels(models: readonly Record<string, unknown>[]): Promise<void>;
  /** Creates a twin that must not exist yet. Rejects with the service's error. */
  createTwin(id: string, body: Record<string, unknown>): Promise<unknown>;
  /** Creates a relationship that must not exist yet. Rejects with the service's error. */
  createRelationship(
    sourceId: string,
    relationshipId: string,
    body: Record<string, unknown>,
  ): Promise<unknown>;
}

export type { ImportLogEntry, ImportLogSink } from '../ports/import-io.js';

export interface ImportRunOptions {
  jobId: string;
  input: AsyncIterable<Uint8Array>;
  totalBytes?: number;
  target: ImportTarget;
  log: ImportLogSink;
  /** Twins or relationships gathered per batch. */
  batchSize: number;
  /** Most ms of writes in one transaction: a batch is cut into slices, with a yield after each. */
  sliceMs: number;
  maxLineBytes: number;
  /** Bytes of the Models section held for its one batch. */
  maxModelBytes: number;
  /** Error lines written to the log at most; later ones are counted. */
  maxLoggedErrors: number;
  maxJsonDepth?: number;
  yieldNow: () => Promise<void>;
  /** True when the job should stop at the next batch. */
  cancelled: () => boolean;
  /** Told after every batch (the caller persists it at its own pace). */
  onProgress: (progress: ImportProgress) => void | Promise<void>;
  now: () => number;
}

export type ImportOutcome =
  | { status: 'succeeded'; progress: ImportProgress }
  | { status: 'cancelled'; progress: ImportProgress }
  | { status: 'failed'; progress: ImportProgress; error: JobError };

type Pending =
  | { kind: 'twin'; lineNumber: number; id: string; body: Record<string, unknown> }
  | {
      kind: 'relationship';
      lineNumber: number;
      sourceId: string;
      relationshipId: string;
      body: Record<string, unknown>;
    };

class Stop {
  constructor(readonly outcome: 'cancelled' | { error: JobError }) {}
}

/**
 * @example
 * const r = await runImport({ jobId: 'j1', input: fs.createReadStream(file), target, log, batchSize: 200,
 *   maxLineBytes: 2 << 20, maxModelBytes: 64 << 20, maxLoggedErrors: 10_000,
 *   yieldNow: () => new Promise((r) => setImmediate(r)), cancelled: () => false, onProgress, now: Date.now });
 */
export async function runImport(o: ImportRunOptions): Promise<ImportOutcome> {
  const run = new ImportRun(o);
  return run.run();
}

class ImportRun {
  private readonly progress: ImportProgress = {
    bytesRead: 0,
    lines: 0,
    models: 0,
    twins: 0,
    relationships: 0,
    errors: 0,
  };
  private readonly splitter: LineSplitter;
  private readonly reader: ImportFileReader;
  private models: { lineNumber: number; id: string; model: Record<string, unknown> }[] = [];
  private modelBytes = 0;
  private modelsDone = false;
  private readonly modelIds = new Set<string>();
  private batch: Pending[] = [];
  private unlogged = 0;

  constructor(private readonly o: ImportRunOptions) {
    this.splitter = new LineSplitter(o.maxLineBytes);
    this.reader = new ImportFileReader(o.maxJsonDepth !== undefined ? { maxDepth: o.maxJsonDepth } : {});
    if (o.totalBytes !== undefined) this.progress.totalBytes = o.totalBytes;
  }

  async run(): Promise<ImportOutcome> {
    await this.info({ status: 'Started' });
    try {
      try {
        for await (const chunk of this.o.input) {
          this.progress.bytesRead += chunk.length;
          for (const line of this.splitter.push(chunk))
            await this.onLine(line.lineNumber, this.reader.read(line));
          if (this.o.cancelled()) throw new Stop('cancelled');
        }
      } catch (e) {
        if (e instanceof Stop) throw e;
        // The input broke off (network, size or time budget): what was read stays written.
        await this.flushAll();
        throw new Stop({ error: toJobError(e, 'The input could not be read to its end') });
      }
      for (const line of this.splitter.end()) await this.onLine(line.lineNumber, this.reader.read(line));
      if (!this.reader.hasHeader) {
        throw new Stop({
          error: {
            code: 'ValidationFailed',
            message: 'The input is empty: an import file starts with {"Section": "Header"}.',
          },
        });
      }
      await this.flushAll();
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      await this.finishLog();
      await this.o.onProgress(this.progress);
      if (e.outcome === 'cancelled') {
        await this.info({ status: 'Cancelled' });
        return { status: 'cancelled', progress: this.progress };
      }
      await this.entry('Error', {
        status: 'Failed',
        code: e.outcome.error.code,
        message: e.outcome.error.message,
      });
      return { status: 'failed', progress: this.progress, error: e.outcome.error };
    }
    await this.finishLog();
    await this.o.onProgress(this.progress);
    await this.info({ status: 'Succeeded', ...counts(this.progress) });
    return { status: 'succeeded', progress: this.progress };
  }

  private async onLine(lineNumber: number, line: ImportLine): Promise<void> {
    this.progress.lines = lineNumber;
    switch (line.kind) {
      case 'blank':
      case 'header':
        return;
      case 'error':
        await this.lineError(line);
        if (line.fatal) {
          throw new Stop({
            error: { code: 'ValidationFailed', message: `The input is not an import file. ${line.message}` },
          });
        }
        return;
      case 'section':
        await this.flushAll();
        if (line.section !== 'Header') await this.info({ section: line.section, status: 'Started' });
        this.progress.section = line.section;
        return;
      case 'model': {
        const bytes = JSON.stringify(line.model).length;
        if (this.modelBytes + bytes > this.o.maxModelBytes) {
          await this.itemError(
            line.lineNumber,
            'Models',
            'LimitExceeded',
            `The Models section is larger than ${this.o.maxModelBytes} bytes (jobs.maxModelBytes); this model is not read.`,
          );
          return;
        }
        this.modelBytes += bytes;
        this.models.push({ lineNumber: line.lineNumber, id: line.id, model: line.model });
        return;
      }
      case 'twin':
      case 'relationship':
        await this.flushModels();
        this.batch.push(line);
        if (this.batch.length >= this.o.batchSize) await this.flushBatch();
        return;
    }
  }

  private async flushAll(): Promise<void> {
    await this.flushModels();
    await this.flushBatch();
  }

  /** Uploads the Models section as one batch (once). */
  private async flushModels(): Promise<void> {
    if (this.modelsDone || this.models.length === 0) return;
    this.modelsDone = true;
    const upload: typeof this.models = [];
    for (const m of this.models) {
      if (this.modelIds.has(m.id) || this.o.target.hasModel(m.id)) {
        await this.itemError(
          m.lineNumber,
          'Models',
          'ModelAlreadyExists',
          `Model ${m.id} already exists; this line is skipped.`,
        );
        continue;
      }
      this.modelIds.add(m.id);
      upload.push(m);
    }
    this.models = [];
    if (upload.length === 0) return;
    try {
      await this.o.target.addModels(upload.map((m) => m.model));
      this.progress.models += upload.length;
      await this.info({ section: 'Models', status: 'Succeeded', models: upload.length });
    } catch (e) {
      const err = toJobError(e, 'The models could not be uploaded');
      // Each problem goes to the line of the model it points at.
      const problems = isTwinloopError(e) ? e.problems : [];
      for (const p of problems.length ? problems : [undefined]) {
        const index = p?.pointer !== undefined ? Number(/^\/(\d+)/.exec(p.pointer)?.[1]) : NaN;
        const at = Number.isInteger(index) ? upload[index] : undefined;
        const detail: Record<string, unknown> = {
          section: 'Models',
          code: err.code,
          message: p ? p.message : err.message,
        };
        if (at) detail.lineNumber = at.lineNumber;
        if (p) detail.problems = [problemJson(p, at ? /^\/\d+/ : undefined)];
        await this.logError(detail);
      }
      await this.o.yieldNow();
      throw new Stop({
        error: {
          code: err.code,
          message: `The Models section was refused (${upload.length} models, all or nothing): ${err.message.split('\n')[0]}`,
        },
      });
    }
    await this.o.yieldNow();
  }

  /**
   * Writes the pending twins or relationships, one transaction per slice (at most `sliceMs` of
   * work, however large the batch), logs the refused ones, and yields after each slice.
   */
  private async flushBatch(): Promise<void> {
    while (this.batch.length > 0) {
      const batch = this.batch;
      const started: Promise<unknown>[] = [];
      const t0 = this.o.now();
      // Started in one tick: the twin service commits them together (group commit).
      for (const p of batch) {
        started.push(
          p.kind === 'twin'
            ? this.o.target.createTwin(p.id, p.body)
            : this.o.target.createRelationship(p.sourceId, p.relationshipId, p.body),
        );
        if (this.o.now() - t0 >= this.o.sliceMs) break;
      }
      this.batch = batch.slice(started.length);
      const results = await Promise.allSettled(started);
      // A store that cannot commit at all stops the job (as a failed transaction did).
      const storage = results.find(
        (r) =>
          r.status === 'rejected' &&
          isTwinloopError(r.reason) &&
          (r.reason.code === 'StorageError' || r.reason.code === 'StorageCorrupt'),
      );
      if (storage?.status === 'rejected') {
        this.batch = [];
        throw new Stop({ error: toJobError(storage.reason, 'A batch could not be committed') });
      }
      for (const [i, r] of results.entries()) {
        const p = batch[i]!;
        if (r.status === 'fulfilled') {
          if (p.kind === 'twin') this.progress.twins++;
          else this.progress.relationships++;
          continue;
        }
        const err = toJobError(r.reason, 'The item could not be written');
        const section = p.kind === 'twin' ? 'Twins' : 'Relationships';
        const detail: Record<string, unknown> = {
          section,
          lineNumber: p.lineNumber,
          code: err.code,
          message: err.message.split('\n')[0],
        };
        if (isTwinloopError(r.reason) && r.reason.problems.length)
          detail.problems = r.reason.problems.map((q) => problemJson(q));
        await this.logError(detail);
      }
      await this.o.onProgress(this.progress);
      await this.o.yieldNow();
      if (this.o.cancelled()) throw new Stop('cancelled');
    }
  }

  private async lineError(e: LineError): Promise<void> {
    const detail: Record<string, unknown> = { lineNumber: e.lineNumber, code: e.code, message: e.message };
    if (e.section) detail.section = e.section;
    if (e.problem) detail.problems = [problemJson(e.problem)];
    await this.logError(detail);
  }

  private async itemError(lineNumber: number, section: string, code: string, message: string): Promise<void> {
    await this.logError({ section, lineNumber, code, message });
  }

  private async logError(details: Record<string, unknown>): Promise<void> {
    this.progress.errors++;
    if (this.progress.errors > this.o.maxLoggedErrors) {
      this.unlogged++;
      return;
    }
    await this.entry('Error', details);
  }

  private async finishLog(): Promise<void> {
    if (this.unlogged > 0) {
      await this.entry('Warning', {
        code: 'LimitExceeded',
        message: `${this.unlogged} more errors were found but not logged (jobs.maxLoggedErrors is ${this.o.maxLoggedErrors}).`,
      });
    }
  }

  private info(details: Record<string, unknown>): Promise<void> {
    return this.entry('Info', details);
  }

  private entry(logType: ImportLogEntry['logType'], details: Record<string, unknown>): Promise<void> {
    return this.o.log.write({
      timestamp: new Date(this.o.now()).toISOString(),
      jobId: this.o.jobId,
      jobType: 'Import',
      logType,
      details,
    });
  }
}

function counts(p: ImportProgress): Record<string, number> {
  return { models: p.models, twins: p.twins, relationships: p.relationships, errors: p.errors };
}

function problemJson(p: Problem, strip?: RegExp): Record<string, unknown> {
  const out: Record<string, unknown> = { code: p.code, message: p.message };
  if (p.pointer !== undefined) out.pointer = strip ? p.pointer.replace(strip, '') : p.pointer;
  if (p.line !== undefined) out.line = p.line;
  if (p.column !== undefined) out.column = p.column;
  return out;
}

/** A job error from anything thrown: TwinloopErrors keep their code. */
export function toJobError(e: unknown, what: string): JobError {
  if (isTwinloopError(e)) return { code: e.code, message: e.message };
  return { code: 'InternalError', message: `${what}: ${e instanceof Error ? e.message : String(e)}` };
}
