/** Runs the `twinloop` CLI from source in a child process, as a user would, for the CLI tests. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A `cli(...args)` for one data folder (TWINLOOP_DATA); a failing command answers its exit code. */
export function cliFor(dataDir: string): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    try {
      const r = await exec(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'src/app/cli/main.ts'), ...args],
        { cwd: root, env: { ...process.env, TWINLOOP_DATA: dataDir } },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as CliResult;
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };
}
