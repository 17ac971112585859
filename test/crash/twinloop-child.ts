/**
 * Test support (not a test): a real `twinloop start` in a child process on a test data folder
 * (ports from the OS, simulator off), for the crash and cluster tests that kill it with SIGKILL, and
 * for bench/cluster's nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TwinloopChildOptions {
  /** Run the built `dist/app/cli/main.js` (as `npm start` does) instead of the sources through tsx. */
  dist?: boolean;
  /** Node flags before the script (e.g. `--max-semi-space-size=64`, as `npm start`). */
  nodeFlags?: readonly string[];
}

/** Starts `twinloop start --data dataDir` (plus `extraArgs`, e.g. `--config file`). */
export function startTwinloopChild(
  dataDir: string,
  extraArgs: readonly string[] = [],
  options: TwinloopChildOptions = {},
): ChildProcess {
  const entry = options.dist
    ? [path.join(root, 'dist/app/cli/main.js')]
    : ['--import', 'tsx', path.join(root, 'src/app/cli/main.ts')];
  return spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      ...entry,
      'start',
      ...extraArgs,
      '--data',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--log-level',
      'warn',
      '--no-sim',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** The child's runtime.json once it has written it (it is serving then); throws if it exits first. */
export async function waitForRuntime(
  child: ChildProcess,
  dataDir: string,
  timeoutMs = 60_000,
): Promise<{ pid: number; httpUrl: string; mqttUrl: string }> {
  const file = path.join(dataDir, 'runtime.json');
  const end = Date.now() + timeoutMs;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  while (Date.now() < end) {
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, 'utf8')) as {
        pid: number;
        httpUrl: string;
        mqttUrl: string;
      };
      if (info.pid === child.pid) return info;
    }
    if (child.exitCode !== null) throw new Error(`twinloop exited early: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`twinloop did not start: ${stderr}`);
}

/** SIGKILL, and wait until the process is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode ? r() : child.once('exit', () => r()),
  );
}
