/**
 * ImportIo on the file system and HTTP: where import jobs read and write.
 *
 * - `file:` URIs are taken only inside the imports folder (jobs.importsFolder under the data
 *   folder): the path must lie inside it as written and after every symlink is resolved, so
 *   `..`, encoded `%2e%2e`, absolute paths elsewhere and links pointing out are all refused.
 * - `http:`/`https:` inputs are streamed with a size budget (jobs.maxInputMB) and a time budget
 *   (jobs.httpTimeoutMs), when jobs.httpInput is on.
 * - The output log is NDJSON. Twinloop always keeps it in DATA/jobs/; when outputBlobUri is a
 *   `file:` URI inside the imports folder it is written there instead (never over an existing file).
 *   Any other outputBlobUri (an Azure blob URL) is kept as given, and the log stays in DATA/jobs/.
 * - Uploads (PUT /jobs/imports/{id}/input, PUT /jobs/history-imports/{id}/input) are streamed into
 *   the imports folder, under the budget.
 * - A history import's refused rows go to DATA/jobs/history-import-<id>.bad-rows.txt.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TwinloopError } from '../../core/errors/errors.js';
import type { ImportLogEntry } from '../../core/jobs/import-runner.js';
import type {
  BadRowLog,
  HistoryImportIo,
  ImportInput,
  ImportIo,
  ImportLog,
} from '../../core/ports/import-io.js';

export interface FileImportIoOptions {
  /** The imports folder (absolute); created when missing. */
  importsDir: string;
  /** Twinloop's own folder for job logs (absolute); created when missing. */
  logsDir: string;
  maxInputBytes: number;
  httpInput: boolean;
  httpTimeoutMs: number;
  /** fetch, injectable for tests. */
  fetch?: typeof fetch;
}

/** Bytes gathered before a log write (one write per this much, and at close). */
const LOG_BUFFER_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');

export class FileImportIo implements ImportIo, HistoryImportIo {
  private readonly importsDir: string;

  constructor(private readonly o: FileImportIoOptions) {
    fs.mkdirSync(o.importsDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(o.logsDir, { recursive: true, mode: 0o700 });
    // The folder itself may be a link (a mounted share): what counts is where it really is.
    this.importsDir = fs.realpathSync(o.importsDir);
  }

  /** The imports folder, as the file URIs of jobs must name it. */
  get folder(): string {
    return this.importsDir;
  }

  checkUris(inputBlobUri: string, outputBlobUri: string): void {
    const input = this.checkInput(inputBlobUri);
    const output = parseUri(outputBlobUri, 'outputBlobUri');
    if (output.protocol === 'file:') {
      const p = this.insideImports(output, 'outputBlobUri', false);
      if (fs.existsSync(p)) {
        throw new TwinloopError(
          'ValidationFailed',
          `outputBlobUri: ${p} exists already; an import job never overwrites a file. Name a new one.`,
        );
      }
      if (input.protocol === 'file:' && this.insideImports(input, 'inputBlobUri', true) === p) {
        throw new TwinloopError('ValidationFailed', 'outputBlobUri must not be the input file.');
      }
    }
  }

  /** Checks an input URI: a file in the imports folder, or http(s) when allowed. @throws ValidationFailed */
  checkInput(inputBlobUri: string): URL {
    const input = parseUri(inputBlobUri, 'inputBlobUri');
    if (input.protocol === 'file:') this.insideImports(input, 'inputBlobUri', true);
    else if (input.protocol === 'http:' || input.protocol === 'https:') {
      if (!this.o.httpInput) {
        throw new TwinloopError(
          'ValidationFailed',
          'inputBlobUri: http(s) inputs are off on this server (jobs.httpInput); use a file: URI in the imports folder or upload the file (PUT /jobs/imports/{id}/input).',
        );
      }
    } else {
      throw new TwinloopError(
        'ValidationFailed',
        `inputBlobUri: the scheme '${input.protocol}' is not supported; use file: (inside ${this.importsDir}) or http(s):.`,
      );
    }
    return input;
  }

  async openInput(inputBlobUri: string): Promise<ImportInput> {
    const url = parseUri(inputBlobUri, 'inputBlobUri');
    if (url.protocol === 'file:') {
      const file = this.insideImports(url, 'inputBlobUri', true);
      // Opened by the resolved path, then checked again by descriptor: a link swapped in between
      // opening and checking is not followed out of the folder.
      const handle = await fs.promises.open(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        throw new TwinloopError('ValidationFailed', `inputBlobUri: ${file} is not a regular file.`);
      }
      if (stat.size > this.o.maxInputBytes) {
        await handle.close();
        throw tooLarge(this.o.maxInputBytes);
      }
      const stream = handle.createReadStream({ highWaterMark: 256 * 1024 });
      return { stream, totalBytes: stat.size, close: () => stream.destroy() };
    }
    return this.openHttp(url);
  }

  async openLog(jobId: string, outputBlobUri: string): Promise<ImportLog> {
    const file = this.logPath(jobId, outputBlobUri);
    const handle = await fs.promises.open(file, file === this.ownLog(jobId) ? 'w' : 'wx', 0o600);
    let pending: string[] = [];
    let size = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const text = pending.join('');
      pending = [];
      size = 0;
      await handle.appendFile(text, 'utf8');
    };
    return {
      write: async (entry: ImportLogEntry) => {
        const line = `${JSON.stringify(entry)}\n`;
        pending.push(line);
        size += line.length;
        // Errors and the last lines are written at once; info lines may wait for the next.
        if (size >= LOG_BUFFER_BYTES || entry.logType !== 'Error') await flush();
      },
      close: async () => {
        try {
          await flush();
        } finally {
          await handle.close();
        }
      },
    };
  }

  async removeLog(jobId: string, outputBlobUri: string): Promise<void> {
    const own = this.ownLog(jobId);
    if (this.logPath(jobId, outputBlobUri) !== own) return; // the user's file stays
    await fs.promises.rm(own, { force: true });
  }

  /** Where the job's log is: the file URI's path inside the imports folder, else DATA/jobs/. */
  logPath(jobId: string, outputBlobUri: string): string {
    const url = tryParse(outputBlobUri);
    if (url?.protocol === 'file:') {
      try {
        return this.insideImports(url, 'outputBlobUri', false);
      } catch {
        return this.ownLog(jobId);
      }
    }
    return this.ownLog(jobId);
  }

  /**
   * Streams an upload into the imports folder (replacing an earlier upload of the same job id);
   * returns its file URI. @throws PayloadTooLarge past jobs.maxInputMB (nothing is kept)
   */
  async saveUpload(
    jobId: string,
    body: AsyncIterable<Uint8Array>,
    kind: 'import' | 'history-import' = 'import',
  ): Promise<{ uri: string; bytes: number }> {
    const name = kind === 'import' ? `upload-${safeName(jobId)}.ndjson` : this.historyUploadName(jobId);
    const final = path.join(this.importsDir, name);
    const temp = `${final}.${process.pid}.${Date.now()}.part`;
    const handle = await fs.promises.open(temp, 'wx', 0o600);
    let bytes = 0;
    try {
      for await (const chunk of body) {
        bytes += chunk.length;
        if (bytes > this.o.maxInputBytes) throw tooLarge(this.o.maxInputBytes);
        await handle.write(chunk);
      }
      await handle.sync();
      await handle.close();
      await fs.promises.rename(temp, final);
    } catch (e) {
      await handle.close().catch(() => undefined);
      await fs.promises.rm(temp, { force: true });
      throw e;
    }
    return { uri: pathToFileURL(final).href, bytes };
  }

  /** Where a history import job's refused rows are written (DATA/jobs/). */
  badRowsPath(jobId: string): string {
    return path.join(this.o.logsDir, `history-import-${safeName(jobId)}.bad-rows.txt`);
  }

  async openBadRows(jobId: string): Promise<BadRowLog> {
    const handle = await fs.promises.open(this.badRowsPath(jobId), 'w', 0o600);
    let pending: Uint8Array[] = [];
    let size = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const parts = pending;
      pending = [];
      size = 0;
      await handle.writev(parts);
    };
    const add = async (parts: Uint8Array[]) => {
      for (const p of parts) {
        pending.push(p);
        size += p.length;
      }
      if (size >= LOG_BUFFER_BYTES || pending.length >= 512) await flush();
    };
    return {
      header: (raw) => add([...raw.map((r) => Buffer.from(r)), NEWLINE]),
      write: (raw, reasons) =>
        add([
          ...reasons.map((r) => Buffer.from(`# ${r.replace(/[\r\n]+/g, ' ')}\n`, 'utf8')),
          ...raw.flatMap((r) => [Buffer.from(r), NEWLINE]),
        ]),
      close: async () => {
        try {
          await flush();
        } finally {
          await handle.close();
        }
      },
    };
  }

  async removeBadRows(jobId: string): Promise<void> {
    await fs.promises.rm(this.badRowsPath(jobId), { force: true });
    await fs.promises.rm(path.join(this.importsDir, this.historyUploadName(jobId)), { force: true });
  }

  private historyUploadName(jobId: string): string {
    return `history-${safeName(jobId)}.upload`;
  }

  private ownLog(jobId: string): string {
    return path.join(this.o.logsDir, `import-${safeName(jobId)}.log.ndjson`);
  }

  /** The path of a file: URI, refused unless it lies inside the imports folder (links resolved). */
  private insideImports(url: URL, what: string, mustExist: boolean): string {
    let p: string;
    try {
      if (url.host !== '' && url.host !== 'localhost') throw new Error('remote host');
      p = path.resolve(fileURLToPath(url));
    } catch {
      throw new TwinloopError('ValidationFailed', `${what}: '${url.href}' is not a local file URI.`);
    }
    const refuse = () =>
      new TwinloopError(
        'ValidationFailed',
        `${what}: file URIs must name a file inside the imports folder ${this.importsDir} (jobs.importsFolder).`,
      );
    if (!inside(this.importsDir, p)) throw refuse();
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch {
      if (mustExist) throw new TwinloopError('ValidationFailed', `${what}: there is no file ${p}.`);
      // A new file: its folder must really be inside.
      let dir: string;
      try {
        dir = fs.realpathSync(path.dirname(p));
      } catch {
        throw new TwinloopError('ValidationFailed', `${what}: the folder of ${p} does not exist.`);
      }
      if (!inside(this.importsDir, path.join(dir, path.basename(p)))) throw refuse();
      return path.join(dir, path.basename(p));
    }
    if (!inside(this.importsDir, real)) throw refuse();
    return real;
  }

  private async openHttp(url: URL): Promise<ImportInput> {
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new TwinloopError(
            'ServiceUnavailable',
            `inputBlobUri: reading ${redact(url)} took longer than ${this.o.httpTimeoutMs} ms (jobs.httpTimeoutMs).`,
          ),
        ),
      this.o.httpTimeoutMs,
    );
    timer.unref();
    const doFetch = this.o.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (e) {
      clearTimeout(timer);
      throw new TwinloopError(
        'ServiceUnavailable',
        `inputBlobUri: ${redact(url)} could not be read: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!res.ok || !res.body) {
      clearTimeout(timer);
      await res.body?.cancel().catch(() => undefined);
      throw new TwinloopError(
        'ValidationFailed',
        `inputBlobUri: ${redact(url)} answered ${res.status} ${res.statusText}.`,
      );
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > this.o.maxInputBytes) {
      clearTimeout(timer);
      await res.body.cancel().catch(() => undefined);
      throw tooLarge(this.o.maxInputBytes);
    }
    const max = this.o.maxInputBytes;
    const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    async function* counted(): AsyncGenerator<Uint8Array> {
      let bytes = 0;
      try {
        for await (const chunk of source) {
          const c = chunk as Uint8Array;
          bytes += c.length;
          if (bytes > max) throw tooLarge(max);
          yield c;
        }
      } catch (e) {
        const reason: unknown = controller.signal.reason;
        throw controller.signal.aborted && reason instanceof TwinloopError ? reason : e;
      } finally {
        clearTimeout(timer);
        source.destroy();
      }
    }
    return {
      stream: counted(),
      ...(Number.isFinite(length) ? { totalBytes: length } : {}),
      close: () => {
        clearTimeout(timer);
        source.destroy();
      },
    };
  }
}

function parseUri(raw: string, what: string): URL {
  const url = tryParse(raw);
  if (!url) throw new TwinloopError('ValidationFailed', `${what}: '${raw.slice(0, 200)}' is not a URI.`);
  return url;
}

function tryParse(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function tooLarge(max: number): TwinloopError {
  return new TwinloopError(
    'PayloadTooLarge',
    `The import input is larger than ${max} bytes (jobs.maxInputMB).`,
  );
}

/** A URL without credentials or query (a SAS token stays out of logs and job errors). */
function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** A file name for a job id: readable characters kept, plus a hash so two ids never collide. */
function safeName(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return `${readable}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}
