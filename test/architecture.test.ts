/**
 * The shape of the house, as a test (rules in architecture-rules.ts): layering core ← sim ← adapters
 * ← app, each technology only in its adapter folder, core without I/O, no test support in production
 * code, no import cycle. Run on the real source; and on fake import graphs, one per rule, to prove
 * each rule fails on a violation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  architectureViolations,
  importCycles,
  packageOf,
  TEST_SUPPORT,
  type ModuleImports,
} from './architecture-rules.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const IMPORT =
  /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The import specifiers of a source text (static, side-effect and dynamic imports, re-exports). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

const modules: ModuleImports[] = walk(src).map((f) => ({
  file: path.relative(src, f).split(path.sep).join('/'),
  imports: importsOf(readFileSync(f, 'utf8')),
}));

describe('architecture of src/', () => {
  it('finds the source files and their imports', () => {
    expect(modules.length).toBeGreaterThan(100);
    expect(modules.find((m) => m.file === 'app/platform.ts')?.imports).toContain('./config.js');
  });

  it('keeps the layers, the technologies in their adapters, and test support out of production code', () => {
    expect(architectureViolations(modules)).toEqual([]);
  });

  it('imports form no cycle', () => {
    expect(importCycles(modules)).toEqual([]);
  });
});

describe('the rules fail on a violation (fake import graphs)', () => {
  const one = (file: string, ...imports: string[]) => architectureViolations([{ file, imports }]);

  it('reads every kind of import statement', () => {
    const text = [
      "import { a } from './a.js';",
      "import type {\n  B,\n  C,\n} from '../b.js';",
      "export { d } from './d.js';",
      "export type { E } from './e.js';",
      "import 'side-effect';",
      "const f = await import('node:fs');",
      "  import x from 'fastify';",
    ].join('\n');
    expect(importsOf(text)).toEqual([
      './a.js',
      '../b.js',
      './d.js',
      './e.js',
      'side-effect',
      'node:fs',
      'fastify',
    ]);
  });

  it('names packages as npm does', () => {
    expect(packageOf('@fastify/cors/lib/x.js')).toBe('@fastify/cors');
    expect(packageOf('node:fs/promises')).toBe('fs');
    expect(packageOf('pg-copy-streams')).toBe('pg-copy-streams');
  });

  it('core imports only core', () => {
    expect(one('core/graph/g.ts', '../models/m.js', './h.js')).toEqual([]);
    expect(one('core/graph/g.ts', '../../sim/runner/clock.js')).toHaveLength(1);
    expect(one('core/graph/g.ts', '../../adapters/sqlite/s.js')).toHaveLength(1);
    expect(one('core/graph/g.ts', '../../app/platform.js')).toHaveLength(1);
  });

  it('core does no I/O: node:fs, node:net, drivers, frameworks', () => {
    for (const spec of ['node:fs', 'fs', 'node:fs/promises', 'node:net', 'node:http', 'pino', 'ws'])
      expect(one('core/x.ts', spec), spec).toEqual([
        `core/x.ts -> ${spec}: core does no I/O and uses no framework`,
      ]);
    // A driver in core breaks two rules: core's and the technology's.
    expect(one('core/x.ts', 'fastify')).toHaveLength(2);
    expect(one('core/x.ts', 'better-sqlite3')).toHaveLength(2);
    expect(one('core/x.ts', 'node:crypto')).toEqual([]);
  });

  it('sim imports only core and sim', () => {
    expect(one('sim/device/d.ts', '../../core/ports/p.js', '../runner/clock.js')).toEqual([]);
    expect(one('sim/device/d.ts', '../../adapters/mqtt/m.js')).toHaveLength(1);
    expect(one('sim/device/d.ts', '../../app/pilot-files.js')).toHaveLength(1);
  });

  it('adapters never import app', () => {
    expect(one('adapters/mqtt/m.ts', '../../sim/device/d.js', '../../core/x.js', '../http/h.js')).toEqual([]);
    expect(one('adapters/mqtt/m.ts', '../../app/config.js')).toHaveLength(1);
  });

  it('each technology only in its adapter folder', () => {
    const cases: [string, string, boolean][] = [
      ['adapters/sqlite/s.ts', 'better-sqlite3', true],
      ['adapters/postgres/p.ts', 'better-sqlite3', false],
      ['app/x.ts', 'better-sqlite3', false],
      ['adapters/postgres/p.ts', 'pg', true],
      ['adapters/postgres/p.ts', 'pg-copy-streams', true],
      ['adapters/sqlite/s.ts', 'pg', false],
      ['app/x.ts', 'pg-copy-streams', false],
      ['adapters/nats/n.ts', 'nats', true],
      ['adapters/http/h.ts', 'nats', false],
      ['adapters/mqtt/m.ts', 'mqtt', true],
      ['adapters/mqtt/m.ts', 'aedes', true],
      ['app/x.ts', 'mqtt', false],
      ['sim/device/d.ts', 'mqtt', false],
      ['adapters/nats/n.ts', 'aedes', false],
      ['adapters/http/h.ts', 'fastify', true],
      ['adapters/http/h.ts', '@fastify/websocket', true],
      ['app/x.ts', 'fastify', true],
      ['adapters/mqtt/m.ts', 'fastify', false],
      ['adapters/metrics/m.ts', '@fastify/cors', false],
      ['adapters/metrics/m.ts', 'prom-client', true],
      ['app/x.ts', 'prom-client', true],
      ['adapters/http/h.ts', 'prom-client', false],
    ];
    for (const [file, spec, ok] of cases)
      expect(one(file, spec), `${file} -> ${spec}`).toHaveLength(ok ? 0 : 1);
  });

  it('production code never imports test support; tests and fixtures may', () => {
    expect(one('adapters/sqlite/s.ts', './sqlite-test-fixture.js')).toHaveLength(1);
    expect(one('adapters/sqlite/s.ts', './sqlite-fault-fixture.js')).toHaveLength(1);
    expect(one('app/x.ts', '../core/ports/twin-store.contract.js')).toHaveLength(1);
    expect(one('sim/whatif/w.ts', './test-heater.js')).toHaveLength(1);
    expect(one('core/query/q.ts', './query-test-graph.js')).toHaveLength(1);
    expect(one('adapters/sqlite/sqlite-test-fixture.ts', './sqlite-fault-fixture.js')).toEqual([]);
    expect(TEST_SUPPORT.test('core/ports/storage-ports.ts')).toBe(false);
    expect(TEST_SUPPORT.test('adapters/http/http-server.ts')).toBe(false);
  });

  it('finds a cycle', () => {
    const graph: ModuleImports[] = [
      { file: 'core/a.ts', imports: ['./b.js'] },
      { file: 'core/b.ts', imports: ['./c/d.js'] },
      { file: 'core/c/d.ts', imports: ['../a.js'] },
      { file: 'core/e.ts', imports: ['./a.js'] },
    ];
    expect(importCycles(graph)).toEqual(['core/a.ts -> core/b.ts -> core/c/d.ts -> core/a.ts']);
    expect(importCycles(graph.slice(1))).toEqual([]);
  });
});
