/**
 * The rules of the house as a pure function over an import graph (file → import specifiers), so the
 * architecture test can run them on the real source and on fake graphs that must fail. Paths are
 * relative to src/ with '/' separators (e.g. `core/graph/twin-graph.ts`).
 *
 * - Layers: core ← sim ← analytics ← adapters ← app. core imports only core; sim only core and
 *   itself; analytics core, sim and itself; adapters anything but app; app anything.
 * - Technologies: each driver or framework only in its adapter folder (and fastify and prom-client
 *   also in app, which composes them); core imports no I/O module, no framework and no logger.
 * - Production code never imports test support (fixtures, contract suites, test helpers), so none
 *   of it reaches dist/.
 * - No import cycles.
 */
import path from 'node:path';

/** A source file and what it imports (specifiers as written: './x.js', 'node:fs', 'fastify'). */
export interface ModuleImports {
  file: string;
  imports: readonly string[];
}

/** Where each package may be imported: folder prefixes under src/ (with the trailing '/'). */
export const TECHNOLOGY_HOMES: readonly { packages: RegExp; homes: readonly string[]; name: string }[] = [
  { name: 'better-sqlite3', packages: /^better-sqlite3$/, homes: ['adapters/sqlite/'] },
  { name: 'pg, pg-copy-streams', packages: /^(pg|pg-copy-streams)$/, homes: ['adapters/postgres/'] },
  { name: 'nats', packages: /^nats$/, homes: ['adapters/nats/'] },
  { name: 'mqtt, aedes', packages: /^(mqtt|aedes)$/, homes: ['adapters/mqtt/'] },
  { name: 'fastify, @fastify/*', packages: /^(fastify|@fastify\/.+)$/, homes: ['adapters/http/', 'app/'] },
  { name: 'prom-client', packages: /^prom-client$/, homes: ['adapters/metrics/', 'app/'] },
];

/**
 * What core may never import: Node's I/O built-ins (node:fs, node:net, ...), drivers, frameworks
 * and the logger (core reports through callbacks and errors).
 */
export const CORE_FORBIDDEN =
  /^(fs|net|tls|http|https|http2|dgram|child_process|worker_threads|cluster|dns)(\/|$)|^(better-sqlite3|pg|pg-copy-streams|mqtt|aedes|fastify|@fastify\/|ws$|nats$|pino|prom-client|node-opcua)/;

/** Test support: only tests may import these (tsconfig.build.json leaves them out of dist/). */
export const TEST_SUPPORT =
  /(\.test|\.contract|-test-fixture|-fault-fixture)\.ts$|(^|\/)test-[^/]*\.ts$|-test-[^/]*\.ts$/;

const LAYER_OF = (file: string): string => file.split('/')[0] ?? '';

/** What each layer may import (by top folder); a layer not listed may import anything. */
const LAYER_MAY_IMPORT: Record<string, readonly string[]> = {
  core: ['core'],
  sim: ['core', 'sim'],
  // Rules use the simulator's safe expression language and its located YAML reader (issue 10).
  analytics: ['core', 'sim', 'analytics'],
  adapters: ['core', 'sim', 'analytics', 'adapters'],
};

/** The package a bare specifier names ('@fastify/cors/x' → '@fastify/cors'; 'node:fs/promises' → 'fs/promises'). */
export function packageOf(spec: string): string {
  const s = spec.replace(/^node:/, '');
  const parts = s.split('/');
  return s.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? s);
}

/** The src/-relative file a relative specifier points at (.js → .ts), else undefined. */
export function resolveRelative(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
}

/** Every violation of the rules, as `file -> specifier: why`; empty when the graph is sound. */
export function architectureViolations(modules: readonly ModuleImports[]): string[] {
  const bad: string[] = [];
  for (const m of modules) {
    const layer = LAYER_OF(m.file);
    for (const spec of m.imports) {
      const local = resolveRelative(m.file, spec);
      if (local !== undefined) {
        if (local.startsWith('..')) bad.push(`${m.file} -> ${spec}: imports from outside src/`);
        const allowed = LAYER_MAY_IMPORT[layer];
        const target = LAYER_OF(local);
        if (allowed && !allowed.includes(target))
          bad.push(`${m.file} -> ${spec}: ${layer} may import only ${allowed.join(', ')}`);
        if (!TEST_SUPPORT.test(m.file) && TEST_SUPPORT.test(local))
          bad.push(`${m.file} -> ${spec}: production code imports test support`);
        continue;
      }
      const pkg = packageOf(spec);
      if (layer === 'core' && CORE_FORBIDDEN.test(spec.replace(/^node:/, '')))
        bad.push(`${m.file} -> ${spec}: core does no I/O and uses no framework`);
      for (const t of TECHNOLOGY_HOMES)
        if (t.packages.test(pkg) && !t.homes.some((h) => m.file.startsWith(h)))
          bad.push(`${m.file} -> ${spec}: ${t.name} only in ${t.homes.join(' or ')}`);
    }
  }
  return bad;
}

/** Import cycles among the graph's own files, each as `a -> b -> a`. */
export function importCycles(modules: readonly ModuleImports[]): string[] {
  const graph = new Map<string, string[]>();
  for (const m of modules)
    graph.set(
      m.file,
      m.imports.map((s) => resolveRelative(m.file, s)).filter((x): x is string => x !== undefined),
    );
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const next of graph.get(n) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}
