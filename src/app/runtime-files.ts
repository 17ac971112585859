/**
 * Files the running platform keeps in its data folder besides the database: the access token
 * (created on first start when one is needed, printed once) and runtime.json (the URLs actually
 * bound, so the CLI finds a server that had to move off a busy default port).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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
  writeFileSync(file + '.tmp', JSON.stringify(record, null, 2));
  renameSync(file + '.tmp', file);
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
    if (token.length >= 16) return { token, created: false, file };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = `tl_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, created: true, file };
}

export function readToken(dataDir: string): string | undefined {
  const file = path.join(dataDir, TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

export function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): void {
  const file = path.join(dataDir, RUNTIME_FILE);
  writeFileSync(file + '.tmp', JSON.stringify(info, null, 2));
  renameSync(file + '.tmp', file);
}

export function readRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dataDir, RUNTIME_FILE), 'utf8')) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

export function removeRuntimeInfo(dataDir: string): void {
  rmSync(path.join(dataDir, RUNTIME_FILE), { force: true });
}
