/**
 * `twinloop models validate FILE|DIR`: reads DTDL .json files (one Interface or an array per file; a folder
 * is read recursively) and validates them together as one batch. Broken JSON is a problem with its
 * line and column, never a crash.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Problem } from '../../core/errors/errors.js';
import { parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';

export interface ModelsValidateOptions {
  allowUndefinedExtensions?: boolean;
}

async function listJsonFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (s.isFile()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await listJsonFiles(full)));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.json')) out.push(full);
  }
  return out;
}

/** Validates every .json file under `fileOrDir` as one batch; `interfaces` counts the valid-or-not Interfaces read. */
export async function validateModelsPath(
  fileOrDir: string,
  options: ModelsValidateOptions = {},
): Promise<{ problems: Problem[]; interfaces: number; files: number }> {
  let files: string[];
  try {
    files = await listJsonFiles(fileOrDir);
  } catch (e) {
    return {
      problems: [
        {
          code: 'file.unreadable',
          message: `Cannot read ${fileOrDir}: ${(e as Error).message}`,
          source: fileOrDir,
          severity: 'error',
        },
      ],
      interfaces: 0,
      files: 0,
    };
  }
  const inputs: { source: string; text: string }[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    try {
      inputs.push({ source: f, text: await readFile(f, 'utf8') });
    } catch (e) {
      problems.push({
        code: 'file.unreadable',
        message: `Cannot read ${f}: ${(e as Error).message}`,
        source: f,
        severity: 'error',
      });
    }
  }
  const result = parseDtdl(inputs, { allowUndefinedExtensions: options.allowUndefinedExtensions ?? false });
  problems.push(...result.problems);
  return { problems, interfaces: result.interfaces.size, files: files.length };
}
