/**
 * Starts a worker thread on a module beside the caller: the compiled `.js` under dist/, or the
 * TypeScript source under tsx (development and tests; tsx is a dev dependency), so one call works
 * from `npm start` and from vitest alike.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * @param here the caller's `import.meta.url`
 * @param base the worker module's name without extension, relative to the caller (e.g. './analytics-worker')
 * @example const w = startModuleWorker(import.meta.url, './rul-train-worker', { workerData, name: 'rul-training' });
 */
export function startModuleWorker(here: string, base: string, options: WorkerOptions): Worker {
  if (!here.endsWith('.ts')) return new Worker(new URL(`${base}.js`, here), options);
  const file = new URL(`${base}.ts`, here).href;
  // Its ESM entry, as tsx's package.json exports it for `import` (the CommonJS one fails in a worker).
  const pkg = createRequire(here).resolve('tsx/package.json');
  const api = pathToFileURL(join(dirname(pkg), 'dist/esm/api/index.mjs')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(file)}, ${JSON.stringify(here)}))`;
  return new Worker(code, { ...options, eval: true });
}
