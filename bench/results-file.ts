/** bench/RESULTS.md: where every benchmark appends its block (unless run with --dry). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

/** Appends a markdown block, separated from the previous one by a blank line; says where. */
export function appendResults(block: string): void {
  const prefix =
    fs.existsSync(RESULTS_FILE) && !fs.readFileSync(RESULTS_FILE, 'utf8').endsWith('\n\n') ? '\n' : '';
  fs.appendFileSync(RESULTS_FILE, prefix + block);
  console.log(`Appended to ${path.relative(process.cwd(), RESULTS_FILE)}`);
}

/** A positive number flag (`--name N`) from argv, else the fallback. @throws when not positive. */
export function numberFlag(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!(v > 0)) throw new Error(`${name} needs a positive number.`);
  return v;
}

/** A string flag (`--name value`) from argv; undefined when absent. */
export function stringFlag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
