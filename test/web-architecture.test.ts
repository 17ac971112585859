// The web app (web/src) speaks only the public API: from the server's code it may import types
// (the shared contract: live events, problems, alarm states) and nothing that would run in the
// browser. Tests beside the app's code may import server code (they check the app against it).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webSrc = path.join(root, 'web', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx)$/.test(n) ? [p] : [];
  });
}

/** Every import/export-from statement of a module that reaches outside web/, and whether it is type-only. */
export function serverImports(source: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  const re =
    /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) {
    const spec = m[3] ?? m[4]!;
    if (
      /(^|\/)\.\.\/\.\.\/(\.\.\/)*src\//.test(spec) ||
      spec.includes('/src/core/') ||
      spec.includes('/src/adapters/')
    )
      out.push({ spec, typeOnly: m[2] !== undefined });
  }
  return out;
}

describe('the web app imports no server code', () => {
  it('finds value imports and lets type imports through (the check can fail)', () => {
    expect(serverImports("import { parseQuery } from '../../../src/core/query/query-parser.js';")).toEqual([
      { spec: '../../../src/core/query/query-parser.js', typeOnly: false },
    ]);
    expect(serverImports("import type { Problem } from '../../../src/core/errors/errors.js';")).toEqual([
      { spec: '../../../src/core/errors/errors.js', typeOnly: true },
    ]);
    expect(
      serverImports("export type { LiveEvent } from '../../../src/core/live/live-events.js';")[0]!.typeOnly,
    ).toBe(true);
    expect(serverImports("import './styles.css';\nimport { x } from './lib/x.js';")).toEqual([]);
  });

  it('web/src (tests aside) imports only types from src/', () => {
    const bad: string[] = [];
    let typeImports = 0;
    for (const f of files(webSrc)) {
      if (/\.test\.tsx?$/.test(f)) continue;
      for (const i of serverImports(readFileSync(f, 'utf8'))) {
        if (i.typeOnly) typeImports++;
        else bad.push(`${path.relative(root, f)} imports ${i.spec}`);
      }
    }
    expect(bad).toEqual([]);
    expect(typeImports).toBeGreaterThan(0); // the shared contract is in use
  });
});
