/**
 * The integrity check of a database too big to check at start: PRAGMA quick_check in a worker
 * thread, on its own read-only connection, so the event loop never waits for it. In WAL mode the
 * reader does not block writes (the WAL may grow while it runs: its snapshot holds checkpoints
 * back). The result comes back once; stop() ends the worker early (at shutdown).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Plain JS (an eval worker is CommonJS): it must run the same from the sources and from dist/. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  const rows = db.pragma('quick_check(20)');
  parentPort.postMessage({ problems: rows.map((r) => r.quick_check).filter((r) => r !== 'ok') });
} catch (e) {
  const code = String(e && e.code);
  const corrupt = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
  parentPort.postMessage(corrupt ? { problems: [String(e.message)] } : { error: String(e && e.message) });
} finally {
  if (db) db.close();
}
`;

/** What the check found: the problems (empty when the file is sound), or why it could not run. */
export type BackgroundCheckResult = { problems: string[] } | { error: string };

export interface BackgroundCheck {
  /** Settles once with the result. */
  readonly done: Promise<BackgroundCheckResult>;
  /** Ends the check early (the result is then an error). */
  stop(): Promise<void>;
}

/**
 * Starts PRAGMA quick_check of `file` in a worker thread.
 * @example
 *   const check = startBackgroundIntegrityCheck(storage.file);
 *   void check.done.then((r) => ('problems' in r && r.problems.length ? alarm(r.problems) : undefined));
 */
export function startBackgroundIntegrityCheck(file: string): BackgroundCheck {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, driver } });
  const done = new Promise<BackgroundCheckResult>((resolve) => {
    worker.once('message', (m: BackgroundCheckResult) => resolve(m));
    worker.once('error', (e) => resolve({ error: e.message }));
    worker.once('exit', (code) => resolve({ error: `the check stopped (exit ${code})` }));
  });
  return {
    done,
    stop: async () => {
      await worker.terminate();
    },
  };
}
