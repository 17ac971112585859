/**
 * Real storage faults for tests (used by *.test.ts only): a file that cannot be written, and a
 * database damaged at its end. As root, file modes do not stop writes, so the file is made
 * immutable (chattr +i, ext4/xfs/btrfs) instead; `allowWrites` undoes either.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Makes `file` refuse writes, also through descriptors already open when root (chattr +i). */
export function denyWrites(file: string): void {
  if (isRoot) execFileSync('chattr', ['+i', file]);
  else fs.chmodSync(file, 0o444);
}

export function allowWrites(file: string): void {
  try {
    if (isRoot) execFileSync('chattr', ['-i', file]);
    else fs.chmodSync(file, 0o600);
  } catch {
    // absent
  }
}

/** Whether open descriptors lose write access too (only chattr does that; chmod does not). */
export const deniesOpenWriters = isRoot;

/** Overwrites the last `bytes` of the file with garbage, as a torn write or a bad sector would. */
export function damageEnd(file: string, bytes = 8192): void {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(bytes, 0x5a), 0, bytes, Math.max(4096, size - bytes));
  } finally {
    fs.closeSync(fd);
  }
}
