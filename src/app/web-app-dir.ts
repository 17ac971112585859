/**
 * Where the built web app is: `dist/web` of the package this code runs from (from dist/ as
 * installed, and from src/ with tsx in a checkout: both find the package root's package.json).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `<package root>/dist/web` (it may not exist: a checkout that was not built). */
export function shippedWebAppDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web');
    dir = path.dirname(dir);
  }
  return path.resolve('dist', 'web');
}
