/**
 * `twinloop import <file> --mapping <file>`: loads a CSV (or whitespace-separated) file into twins'
 * history through a history import job (docs/history-import.md). The file is streamed to the server
 * (PUT /jobs/history-imports/{id}/input), the job created with the mapping (a YAML or JSON file,
 * and/or flags for simple cases), and — unless --no-wait — followed with a progress bar (rows/s,
 * % of bytes, time left) to the end. Bad rows are downloaded next to the file. Exit code 1 when the
 * job did not succeed.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseHistoryMapping } from '../../core/history-import/history-mapping.js';
import { ApiClient, ApiError } from './api-client.js';
import { clientOptions, withClient, type CliKit } from './cli-kit.js';

/** The flags that can stand in for (or override) parts of a mapping file. */
export interface ImportFlags {
  delimiter?: string;
  header?: boolean;
  columns?: string;
  twinColumn?: string;
  twinTemplate?: string;
  twinPrefix?: string;
  timeColumn?: string;
  timeFormat?: string;
  cycleOrigin?: string;
  cycleStep?: string;
  createTwins?: boolean;
  model?: string;
  encoding?: string;
}

const MAX_MAPPING_BYTES = 1 << 20;

/** Reads a mapping file (YAML or JSON). @throws ValidationFailed when it is not one */
export function readMappingFile(file: string): Record<string, unknown> {
  const size = statSync(file).size;
  if (size > MAX_MAPPING_BYTES)
    throw new TwinloopError('ValidationFailed', `${file}: a mapping file is at most 1 MiB.`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 50, uniqueKeys: true });
  } catch (e) {
    throw new TwinloopError('ValidationFailed', `${file}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new TwinloopError('ValidationFailed', `${file}: a mapping is an object (YAML or JSON).`);
  return doc as Record<string, unknown>;
}

/** The mapping object: the file's, with the flags applied over it. */
export function mappingFromFlags(
  base: Record<string, unknown> | undefined,
  f: ImportFlags,
): Record<string, unknown> {
  const m: Record<string, unknown> = { ...(base ?? {}) };
  const obj = (k: string) => {
    const v = m[k];
    const copy = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as object) } : {};
    m[k] = copy;
    return copy as Record<string, unknown>;
  };
  if (f.delimiter !== undefined) m.delimiter = f.delimiter;
  if (f.header === false) m.header = false;
  if (f.encoding !== undefined) m.encoding = f.encoding;
  if (f.columns !== undefined) m.columns = f.columns.split(',').map((c) => c.trim());
  if (f.twinColumn !== undefined || f.twinTemplate !== undefined || f.twinPrefix !== undefined) {
    const t = obj('twin');
    if (f.twinTemplate !== undefined) {
      delete t.column;
      delete t.prefix;
      t.template = f.twinTemplate;
    } else {
      const column =
        f.twinColumn ?? t.column ?? /^[^{]*\{([^{}]+)\}[^{}]*$/.exec(String(t.template ?? ''))?.[1];
      if (column === undefined)
        throw new TwinloopError(
          'ValidationFailed',
          '--twin-prefix needs a twin column (--twin-column, or one in the mapping).',
        );
      delete t.template;
      t.column = column;
      if (f.twinPrefix !== undefined) t.prefix = f.twinPrefix;
    }
  }
  if (
    f.timeColumn !== undefined ||
    f.timeFormat !== undefined ||
    f.cycleOrigin !== undefined ||
    f.cycleStep !== undefined
  ) {
    const t = obj('time');
    if (f.timeColumn !== undefined) t.column = f.timeColumn;
    if (f.timeFormat !== undefined) t.format = f.timeFormat;
    if (f.cycleOrigin !== undefined) t.origin = f.cycleOrigin;
    if (f.cycleStep !== undefined) t.stepSeconds = Number(f.cycleStep);
  }
  if (f.model !== undefined || f.createTwins) {
    const c = obj('createTwins');
    if (f.model !== undefined) c.model = f.model;
    if (c.model === undefined)
      throw new TwinloopError(
        'ValidationFailed',
        '--create-twins needs --model <dtmi> (or createTwins.model in the mapping).',
      );
  }
  return m;
}

export interface HistoryJobJson {
  id: string;
  status: string;
  error?: { code: string; message: string; details?: { message: string }[] };
  progress: {
    bytesRead: number;
    totalBytes?: number;
    rows: number;
    rowsStored: number;
    points: number;
    badRows: number;
    twinsCreated: number;
    rowsPerSecond: number;
    elapsedMs: number;
  };
}

/** One line of progress: a bar of the bytes read, rows, rate, time left, bad rows. */
export function progressLine(j: HistoryJobJson, width = 24): string {
  const p = j.progress;
  const total = p.totalBytes ?? 0;
  const frac = total > 0 ? Math.min(1, p.bytesRead / total) : 0;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const bytesPerMs = p.elapsedMs > 0 ? p.bytesRead / p.elapsedMs : 0;
  const left = total > 0 && bytesPerMs > 0 ? (total - p.bytesRead) / bytesPerMs / 1000 : undefined;
  const n = (x: number) => x.toLocaleString('en-US');
  return `${bar} ${(frac * 100).toFixed(1).padStart(5)}%  ${n(p.rows)} rows  ${n(p.rowsPerSecond)} rows/s  ${
    left === undefined ? 'time left ?' : `${clock(left)} left`
  }  ${n(p.badRows)} bad`;
}

export function clock(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(sec).padStart(2, '0')}`;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

export function registerImport(program: Command, { run }: CliKit): void {
  withClient(
    program
      .command('import <file>')
      .description("load a CSV or whitespace-separated file into twins' history (docs/history-import.md)")
      .option('--mapping <file>', 'the mapping (YAML or JSON): columns to twins, time and telemetry')
      .option('--id <id>', 'job id (default: the file name and the time)')
      .option('--delimiter <d>', '",", ";", "tab" or "whitespace"')
      .option('--no-header', 'the file has no header row')
      .option('--columns <names>', 'column names, comma-separated (files without a header)')
      .option('--twin-column <col>', 'the column holding the twin id')
      .option('--twin-prefix <prefix>', 'twin id = prefix + the twin column (e.g. fd001-train-)')
      .option('--twin-template <t>', 'twin id template, e.g. "engine-{unit}"')
      .option('--time-column <col>', 'the column holding the time')
      .option('--time-format <f>', 'iso, epoch-s, epoch-ms or cycle')
      .option('--cycle-origin <iso>', 'cycle: the time of cycle 0')
      .option('--cycle-step <seconds>', 'cycle: seconds per cycle')
      .option('--create-twins', 'create missing twins (from --model or the mapping)')
      .option('--model <dtmi>', 'the model of created twins')
      .option('--encoding <e>', 'utf-8 (default) or latin1')
      .option('--bad-rows-out <file>', 'where to save the bad rows (default: <file>.bad-rows.txt)')
      .option('--wait', 'follow the job to its end with a progress bar (the default)', true)
      .option('--no-wait', 'create the job and return'),
  ).action(
    run(
      async (
        file: string,
        o: ImportFlags & { mapping?: string; id?: string; wait: boolean; badRowsOut?: string },
        cmd: Command,
      ) => {
        const raw = mappingFromFlags(o.mapping ? readMappingFile(o.mapping) : undefined, o);
        parseHistoryMapping(raw); // every problem reported here, before anything is uploaded
        const client = new ApiClient(clientOptions(cmd));
        const id = o.id ?? `${path.basename(file).replace(/[^\w.-]+/g, '_')}-${Date.now()}`;
        const size = statSync(file).size;
        const tty = process.stderr.isTTY;
        let sent = 0;
        async function* counted(): AsyncGenerator<Uint8Array> {
          for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
            sent += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
        }
        const ticker = setInterval(() => {
          if (tty) process.stderr.write(`\ruploading ${((sent / Math.max(size, 1)) * 100).toFixed(1)}%`);
        }, 500);
        let res: Response;
        try {
          res = await fetch(client.url(`/jobs/history-imports/${encodeURIComponent(id)}/input`), {
            method: 'PUT',
            headers: {
              'content-type': 'text/csv',
              ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
            },
            body: counted() as unknown as ReadableStream,
            duplex: 'half',
          } as RequestInit);
        } finally {
          clearInterval(ticker);
          if (tty) process.stderr.write('\r\x1b[K');
        }
        const up = (await res.json().catch(() => ({}))) as {
          inputBlobUri?: string;
          error?: { code: string; message: string };
        };
        if (!res.ok || !up.inputBlobUri)
          throw new ApiError(
            res.status,
            up.error?.code ?? String(res.status),
            up.error?.message ?? 'upload failed',
            up,
          );
        await client.request('PUT', `/jobs/history-imports/${encodeURIComponent(id)}`, {
          body: { inputBlobUri: up.inputBlobUri, mapping: raw, fileName: path.basename(file) },
        });
        process.stdout.write(
          `history import job ${id} created (${size.toLocaleString('en-US')} bytes uploaded)\n`,
        );
        if (!o.wait) return;
        let job: HistoryJobJson;
        let lastPrinted = 0;
        for (;;) {
          job = (await client.request('GET', `/jobs/history-imports/${encodeURIComponent(id)}`))
            .body as HistoryJobJson;
          if (tty) process.stderr.write(`\r${progressLine(job)}\x1b[K`);
          else if (Date.now() - lastPrinted > 5000 || FINISHED.has(job.status)) {
            lastPrinted = Date.now();
            process.stderr.write(`${progressLine(job)}\n`);
          }
          if (FINISHED.has(job.status)) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        if (tty) process.stderr.write('\n');
        const p = job.progress;
        process.stdout.write(
          `${job.status}: ${p.rows.toLocaleString('en-US')} rows read, ${p.rowsStored.toLocaleString('en-US')} stored (${p.points.toLocaleString('en-US')} points), ${p.badRows.toLocaleString('en-US')} bad rows, ${p.twinsCreated} twins created, ${(p.elapsedMs / 1000).toFixed(1)} s\n`,
        );
        if (p.badRows > 0) {
          const out = o.badRowsOut ?? `${file}.bad-rows.txt`;
          if (o.badRowsOut === undefined && existsSync(out)) {
            process.stdout.write(
              `bad rows: ${out} exists already; get them with --bad-rows-out or GET /jobs/history-imports/${id}/bad-rows\n`,
            );
          } else {
            const r = await fetch(client.url(`/jobs/history-imports/${encodeURIComponent(id)}/bad-rows`), {
              headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
            });
            if (!r.ok || !r.body)
              throw new ApiError(r.status, String(r.status), 'the bad rows could not be read', undefined);
            await pipeline(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), createWriteStream(out));
            process.stdout.write(`bad rows (each after its reasons): ${out}\n`);
          }
        }
        if (job.error) {
          process.stdout.write(`error ${job.error.code}: ${job.error.message}\n`);
          for (const d of job.error.details ?? []) process.stdout.write(`  - ${d.message}\n`);
        }
        if (job.status !== 'succeeded') process.exitCode = 1;
      },
    ),
  );
}
