/**
 * The shape of the house, as a test: core does no I/O and imports no adapter or app code, adapters
 * never import the composition root, and module imports form no cycle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

const files = walk(src);
const rel = (f: string) => path.relative(src, f);

// Node built-ins and packages that open sockets, files or databases, or are frameworks.
const IO_MODULES =
  /^(node:)?(fs|net|tls|http|https|http2|dgram|child_process|worker_threads|cluster|dns)(\/|$)|^(better-sqlite3|pg|mqtt|aedes|fastify|@fastify\/|ws|nats|pino|prom-client|node-opcua)/;

describe('architecture', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('core imports no adapter, no app code and no I/O module', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => rel(f).startsWith('core' + path.sep))) {
      for (const spec of importsOf(f)) {
        const local = resolveLocal(f, spec);
        if (local && !rel(local).startsWith('core' + path.sep)) bad.push(`${rel(f)} -> ${spec}`);
        if (!local && IO_MODULES.test(spec)) bad.push(`${rel(f)} -> ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('adapters and sim/analytics never import the composition root (app/)', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => !rel(f).startsWith('app' + path.sep))) {
      for (const spec of importsOf(f)) {
        const local = resolveLocal(f, spec);
        if (local && rel(local).startsWith('app' + path.sep)) bad.push(`${rel(f)} -> ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('imports form no cycle', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      graph.set(
        f,
        importsOf(f)
          .map((s) => resolveLocal(f, s))
          .filter((x): x is string => x !== undefined && graph !== undefined),
      );
    }
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const stack: string[] = [];
    const visit = (n: string) => {
      state.set(n, 1);
      stack.push(n);
      for (const m of graph.get(n) ?? []) {
        if (!graph.has(m)) continue;
        if (state.get(m) === 1) cycles.push([...stack.slice(stack.indexOf(m)), m].map(rel).join(' -> '));
        else if (!state.has(m)) visit(m);
      }
      stack.pop();
      state.set(n, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
