/**
 * One Twinloop per data folder. The folder's lock (an OS lock held by SQLite on `DATA/lock`, see
 * sqlite-folder-lock.ts) is taken before anything else is opened or bound, held for the life of the
 * process and released by the OS when it ends, kill -9 included. `lock.json` says who holds it, so
 * a second start can name the first (its pid, start time and, once bound, its URLs) and the way out.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { TwinloopError } from '../core/errors/errors.js';
import { ensureDataFolder, makePrivate } from '../adapters/sqlite/sqlite-file-checks.js';
import { LOCK_FILE, tryLockFolder, type FolderLock } from '../adapters/sqlite/sqlite-folder-lock.js';
import { readRuntimeInfo, writePrivateFile } from './runtime-files.js';

/** Who holds the lock of a data folder (written by the holder right after taking it). */
export const LOCK_OWNER_FILE = 'lock.json';

export interface LockOwner {
  pid: number;
  startedAt: string;
  host: string;
}

function readOwner(dataDir: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path.join(dataDir, LOCK_OWNER_FILE), 'utf8')) as LockOwner;
    return typeof o.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the data folder for this process (creating the folder 0700 when absent).
 * @throws TwinloopError DataFolderInUse naming the holder and the way out; StorageError when the
 *   folder or the lock file cannot be created.
 * @example
 *   const lock = lockDataFolder(config.dataDir); // ... at the very end: lock.release()
 */
export function lockDataFolder(dataDir: string): FolderLock {
  ensureDataFolder(dataDir);
  const lock = tryLockFolder(dataDir);
  if (!lock) throw folderInUse(dataDir);
  makePrivate(path.join(dataDir, LOCK_FILE), path.join(dataDir, `${LOCK_FILE}-journal`));
  const owner: LockOwner = { pid: process.pid, startedAt: new Date().toISOString(), host: hostname() };
  try {
    writePrivateFile(path.join(dataDir, LOCK_OWNER_FILE), JSON.stringify(owner, null, 2));
  } catch (e) {
    lock.release();
    throw new TwinloopError(
      'StorageError',
      `Cannot write ${LOCK_OWNER_FILE} in ${dataDir}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return lock;
}

function folderInUse(dataDir: string): TwinloopError {
  const owner = readOwner(dataDir);
  const runtime = readRuntimeInfo(dataDir);
  const bound = owner && runtime?.pid === owner.pid ? runtime : undefined;
  const who = owner
    ? [
        `pid ${owner.pid}${owner.host && owner.host !== hostname() ? ` on ${owner.host}` : ''}`,
        `started ${owner.startedAt}`,
        ...(bound ? [`HTTP ${bound.httpUrl}`, `MQTT ${bound.mqttUrl}`] : ['still starting']),
      ].join(', ')
    : 'its pid is not recorded yet';
  const stop = owner ? `stop it first (Ctrl+C where it runs, or kill ${owner.pid})` : 'stop it first';
  return new TwinloopError(
    'DataFolderInUse',
    `The data folder ${dataDir} is in use by another Twinloop (${who}). Only one process may use a data folder: ${stop}, or start this one with another folder (--data <dir>).`,
    {
      details: {
        dataDir,
        ...(owner ? { pid: owner.pid, startedAt: owner.startedAt } : {}),
        ...(bound ? { httpUrl: bound.httpUrl, mqttUrl: bound.mqttUrl } : {}),
      },
    },
  );
}
