/**
 * What every `twinloop` subcommand module shares: the options of a client of a running server, the
 * output format, and `run` (given by main.ts: a command body whose errors end the process with a
 * clear message). A subcommand module exports `registerX(program, kit)`; main.ts lists them.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ClientOptions } from './api-client.js';
import { formatOption, resolveFormat, type Format } from './output.js';

export interface CliKit {
  /** Wraps a command body: errors are printed as `error: CODE: message`, exit code 1, no stack. */
  run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

/** A subcommand module's entry point. */
export type RegisterCommands = (program: Command, kit: CliKit) => void;

/** --url, --token and --data: how a client command finds the running server. */
export function withClient(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'Twinloop HTTP URL (env TWINLOOP_URL; default: from the data folder, else http://127.0.0.1:8480)',
    )
    .option('--token <token>', "access token (env TWINLOOP_TOKEN; default: the data folder's token file)")
    .option('--data <dir>', 'data folder of the local server (to find its URL and token)');
}

/** A client command that prints data: also --format. */
export function withOutput(cmd: Command): Command {
  return withClient(cmd).addOption(formatOption());
}

export function clientOptions(cmd: Command): ClientOptions {
  const o = cmd.optsWithGlobals<{ url?: string; token?: string; data?: string }>();
  return { url: o.url, token: o.token, data: o.data };
}

export function formatOf(cmd: Command): Format {
  return resolveFormat(cmd.optsWithGlobals<{ format?: string }>().format);
}

/** JSON files of a path: the file itself, or every *.json below a folder (sorted). */
export function jsonFiles(p: string): string[] {
  const st = statSync(p);
  if (st.isFile()) return [p];
  return readdirSync(p, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(p, f));
}
