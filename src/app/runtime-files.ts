/**
 * Files the running platform keeps in its data folder besides the database: the access token
 * (created on first start when one is needed, printed once), runtime.json (the URLs actually
 * bound, so the CLI finds a server that had to move off a busy default port), pilot.json, and the
 * folder's lock with lock.json (who holds it). Every file is written 0600 (private to the user).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE, ensureDataFolder, makePrivate } from '../adapters/sqlite/sqlite-file-checks.js';

export const TOKEN_FILE = 'token';
export const RUNTIME_FILE = 'runtime.json';
/** Which pilot the data folder was seeded with (written on first start). */
export const PILOT_FILE = 'pilot.json';

export interface PilotRecord {
  /** As given: a name under pilots/ or a path. */
  pilot: string;
  loadedAt: string;
}

export function readPilotRecord(dataDir: string): PilotRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path.join(dataDir, PILOT_FILE), 'utf8')) as PilotRecord;
    return typeof r.pilot === 'string' && r.pilot ? r : undefined;
  } catch {
    return undefined;
  }
}

export function writePilotRecord(dataDir: string, pilot: string): void {
  const file = path.join(dataDir, PILOT_FILE);
  const record: PilotRecord = { pilot, loadedAt: new Date().toISOString() };
  writePrivateFile(file, JSON.stringify(record, null, 2));
}

/** Writes a file atomically (temp file, then rename), readable and writable by the user only. */
export function writePrivateFile(file: string, text: string): void {
  const tmp = file + '.tmp';
  rmSync(tmp, { force: true }); // a leftover temp file would keep its old mode
  writeFileSync(tmp, text, { mode: PRIVATE_FILE_MODE });
  renameSync(tmp, file);
}

export interface RuntimeInfo {
  pid: number;
  startedAt: string;
  httpUrl: string;
  liveUrl: string;
  mqttUrl: string;
  mqttMode: 'embedded' | 'external';
}

/** Returns the data folder's token, creating it (0600) when absent; `created` says whether it is new. */
export function ensureToken(dataDir: string): { token: string; created: boolean; file: string } {
  const file = path.join(dataDir, TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) {
      makePrivate(file);
      return { token, created: false, file };
    }
  }
  ensureDataFolder(dataDir);
  const token = `tl_${randomBytes(24).toString('base64url')}`;
  writePrivateFile(file, token + '\n');
  return { token, created: true, file };
}

export function readToken(dataDir: string): string | undefined {
  const file = path.join(dataDir, TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

export function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): void {
  writePrivateFile(path.join(dataDir, RUNTIME_FILE), JSON.stringify(info, null, 2));
}

export function readRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dataDir, RUNTIME_FILE), 'utf8')) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

/**
 * Removes runtime.json only when it is this process's own (same pid and start time): a process
 * never deletes the file of another Twinloop.
 */
export function removeRuntimeInfo(dataDir: string, own: Pick<RuntimeInfo, 'pid' | 'startedAt'>): void {
  const current = readRuntimeInfo(dataDir);
  if (current && (current.pid !== own.pid || current.startedAt !== own.startedAt)) return;
  rmSync(path.join(dataDir, RUNTIME_FILE), { force: true });
}

/** The rule engine's state between runs of a single-process platform (RuleEngine.snapshot). */
export const RULE_STATE_FILE = 'rule-state.json';
/** Largest rule state read back (100,000 pairs with forecast buffers stay well below). */
export const MAX_RULE_STATE_BYTES = 256 * 1024 * 1024;

/**
 * The rule state kept in the data folder, written atomically. A file that cannot be read back (too
 * large, not JSON) is moved aside as `rule-state.json.unreadable` and said in the log: the rules
 * then start afresh, as on a first start; nothing else depends on it.
 */
export function ruleStateFile(
  dataDir: string,
  warn: (fields: Record<string, unknown>, message: string) => void,
): { load(): unknown; save(snapshot: unknown): void } {
  const file = path.join(dataDir, RULE_STATE_FILE);
  return {
    load() {
      if (!existsSync(file)) return undefined;
      try {
        // Sized before it is read: an oversized file is set aside without loading it.
        const size = statSync(file).size;
        if (size > MAX_RULE_STATE_BYTES) throw new Error(`${size} bytes, more than ${MAX_RULE_STATE_BYTES}`);
        return JSON.parse(readFileSync(file, 'utf8')) as unknown;
      } catch (e) {
        const aside = `${file}.unreadable`;
        try {
          renameSync(file, aside);
        } catch {
          // left where it is: the next save replaces it
        }
        warn(
          { file, movedTo: aside, reason: (e as Error).message },
          'the saved rule state could not be read: the rules start afresh (durations under way begin again)',
        );
        return undefined;
      }
    },
    save(snapshot) {
      writePrivateFile(file, JSON.stringify(snapshot));
    },
  };
}
