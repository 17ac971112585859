#!/usr/bin/env node
/**
 * The `twinloop` command: `start` runs the platform; the other commands are clients of a running
 * platform's HTTP API (models, twins, query, send, history, dead-letters, whatif…), except
 * `models validate`, which checks model files offline. Each group of subcommands is a module
 * (`cmd-*.ts`) with a `registerX(program, kit)`: adding one is one line in COMMANDS below.
 */
import { Command } from 'commander';
import { ApiError } from './api-client.js';
import { isTwinloopError } from '../../core/errors/errors.js';
import type { CliKit, RegisterCommands } from './cli-kit.js';
import { registerStart } from './cmd-start.js';
import { registerSimulate } from './cmd-simulate.js';
import { registerModels } from './cmd-models.js';
import { registerTwins } from './cmd-twins.js';
import { registerQuery } from './cmd-query.js';
import { registerDevice } from './cmd-device.js';
import { registerHistory } from './cmd-history.js';
import { registerAlarms } from './cmd-alarms.js';
import { registerDeadLetters } from './cmd-dead-letters.js';
import { registerWhatIf } from './cmd-whatif.js';
import { registerStatus } from './cmd-status.js';
import { registerDevices } from './cmd-devices.js';
import { registerJobs } from './cmd-jobs.js';
import { registerImport } from './cmd-import.js';
import { registerRoutes } from './cmd-routes.js';
import { registerRules } from './cmd-rules.js';
import { registerScene } from './cmd-scene.js';
import { registerMigrateStore } from './cmd-migrate-store.js';
import { registerTrain } from './cmd-train.js';
import { registerMl } from './cmd-ml.js';

const program = new Command();
program
  .name('twinloop')
  .description(
    'Twinloop: an open-source digital twin platform (DTDL v3, ADT-compatible API, MQTT, history, live).',
  )
  .version('0.1.0')
  .showHelpAfterError();

/** Runs a command body; our errors and API errors end the process with a clear message, no stack. */
function run<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ApiError) {
        process.stderr.write(`error: ${e.code}: ${e.message}\n`);
        const details = (e.body as { error?: { details?: { message: string }[] } } | undefined)?.error
          ?.details;
        for (const d of details ?? []) process.stderr.write(`  - ${d.message}\n`);
      } else if (isTwinloopError(e)) {
        process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      } else if (typeof (e as NodeJS.ErrnoException | null)?.syscall === 'string') {
        // A system error (ENOENT, EACCES, ...) outside our wrapping: its message says it all.
        process.stderr.write(`error: ${(e as Error).message}\n`);
      } else {
        process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
      }
      process.exitCode = 1;
    }
  };
}

const COMMANDS: readonly RegisterCommands[] = [
  registerStart,
  registerSimulate,
  registerModels,
  registerTwins,
  registerQuery,
  registerDevice,
  registerHistory,
  registerDeadLetters,
  registerRoutes,
  registerRules,
  registerScene,
  registerWhatIf,
  registerStatus,
  registerDevices,
  registerJobs,
  registerImport,
  registerAlarms,
  registerMigrateStore,
  registerTrain,
  registerMl,
];
const kit: CliKit = { run };
for (const register of COMMANDS) register(program, kit);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
