/**
 * A history import streams: a 48 MiB file is imported by a child process whose V8 heap is capped at
 * 32 MiB (reading the file whole into a string would not fit; the live heap stays under 24 MiB), through the real file adapter,
 * runner and SQLite history; every good row is stored and every bad one written aside.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { root } from '../cli/cli-runner.js';

const exec = promisify(execFile);

describe('history import memory', () => {
  it('imports a file larger than its heap budget, in bounded memory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-hist-mem-'));
    try {
      const { stdout } = await exec(
        process.execPath,
        [
          '--max-old-space-size=32',
          '--expose-gc',
          '--import',
          'tsx',
          path.join(root, 'test/support/history-import-memory-child.ts'),
          dir,
          '48',
        ],
        { cwd: root, maxBuffer: 1 << 20 },
      );
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
        status: string;
        progress: { rows: number; rowsStored: number; points: number; badRows: number; bytesRead: number };
        rowsWritten: number;
        fileBytes: number;
        peakHeap: number;
        peakLiveHeap: number;
        peakRss: number;
        badLines: number;
      };
      console.log(
        `48 MiB file: ${r.progress.rows} rows; peak live heap ${(r.peakLiveHeap / 1048576).toFixed(1)} MiB (sampled heap ${(r.peakHeap / 1048576).toFixed(1)} MiB), peak RSS ${(r.peakRss / 1048576).toFixed(0)} MiB`,
      );
      expect(r.status).toBe('succeeded');
      expect(r.progress.bytesRead).toBeGreaterThan(48 * 1048576);
      expect(r.progress.rows).toBe(r.rowsWritten);
      const bad = Math.floor(r.rowsWritten / 1000);
      expect(r.progress).toMatchObject({
        badRows: bad,
        rowsStored: r.rowsWritten - bad,
        points: r.rowsWritten - bad,
      });
      expect(r.badLines).toBe(1 + 2 * bad); // the header, then a reason and the row for each
      // The old generation is capped at 32 MiB (the file would not fit); what stays alive is far less.
      // The sampled heapUsed also counts uncollected young garbage, so it is reported, not bounded.
      expect(r.peakLiveHeap).toBeLessThan(24 * 1048576);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
