/**
 * Shared by the query and memory benchmarks: percentiles, machine facts, and the markdown block
 * each run prints and appends to bench/RESULTS.md (never rewriting other sections).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';

export const RESULTS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'RESULTS.md');

/** p-th percentile (0..100) of samples, nearest-rank on a sorted copy. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function machineLine(): string {
  const gb = (os.totalmem() / 1024 ** 3).toFixed(1);
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${gb} GB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

export const mb = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

/** Prints the block and appends it to bench/RESULTS.md (created with a title when absent). */
export function report(title: string, command: string, lines: readonly string[]): void {
  const block = [
    `## ${title} — ${new Date().toISOString()}`,
    '',
    `- Machine: ${machineLine()}`,
    `- Command: \`${command}\``,
    `- ${loadNote()}`,
    '',
    ...lines,
    '',
  ].join('\n');
  console.log(`\n${block}`);
  if (!existsSync(RESULTS_FILE))
    writeFileSync(
      RESULTS_FILE,
      '# Benchmark results\n\nAppended by the bench scripts; one section per run.\n\n',
    );
  appendFileSync(RESULTS_FILE, `${block}\n`);
}
