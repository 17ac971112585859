/**
 * The app's client routes: `/` (overview), `/app/explorer?q=…`, `/app/twin?id=…`, `/app/alarms`,
 * `/app/deadletters?source=…&twin=…`, `/app/models?id=…`, `/app/simulation?twin=…&run=…`,
 * `/app/scene[?id=…]` (the 3D scenes; without an id, their list).
 * Twin ids may hold any character (`/`, `?`, `#`, spaces, non-ASCII, `..`): an id travels in the
 * query string, where a URL parser changes nothing (a path segment `..` or `%2e%2e` would be
 * resolved away).
 */
export type Route =
  | { page: 'overview' }
  | { page: 'explorer'; query?: string }
  | { page: 'twin'; id: string }
  | { page: 'alarms' }
  | { page: 'deadletters'; source?: string; twin?: string }
  | { page: 'models'; id?: string }
  | { page: 'simulation'; twin?: string; run?: string }
  | { page: 'scene'; id?: string }
  | { page: 'notFound'; path: string };

/** The query parameters named, those present only. */
function params<K extends string>(search: string, names: readonly K[]): Partial<Record<K, string>> {
  const q = new URLSearchParams(search);
  const out: Partial<Record<K, string>> = {};
  for (const n of names) {
    const v = q.get(n);
    if (v !== null && v !== '') out[n] = v;
  }
  return out;
}

function withParams(path: string, values: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function parseRoute(pathname: string, search = ''): Route {
  if (pathname === '/' || pathname === '' || pathname === '/app' || pathname === '/app/')
    return { page: 'overview' };
  if (pathname === '/app/explorer') {
    const q = new URLSearchParams(search).get('q');
    return q !== null ? { page: 'explorer', query: q } : { page: 'explorer' };
  }
  if (pathname === '/app/alarms') return { page: 'alarms' };
  if (pathname === '/app/deadletters')
    return { page: 'deadletters', ...params(search, ['source', 'twin'] as const) };
  if (pathname === '/app/models') return { page: 'models', ...params(search, ['id'] as const) };
  if (pathname === '/app/simulation')
    return { page: 'simulation', ...params(search, ['twin', 'run'] as const) };
  if (pathname === '/app/scene') {
    const id = new URLSearchParams(search).get('id');
    return id ? { page: 'scene', id } : { page: 'scene' };
  }
  if (pathname === '/app/twin') {
    const id = new URLSearchParams(search).get('id');
    if (id) return { page: 'twin', id };
  }
  return { page: 'notFound', path: pathname };
}

export function routeHref(r: Route): string {
  switch (r.page) {
    case 'overview':
      return '/';
    case 'explorer':
      return r.query !== undefined ? `/app/explorer?${new URLSearchParams({ q: r.query })}` : '/app/explorer';
    case 'twin':
      return `/app/twin?${new URLSearchParams({ id: r.id })}`;
    case 'alarms':
      return '/app/alarms';
    case 'deadletters':
      return withParams('/app/deadletters', { source: r.source, twin: r.twin });
    case 'models':
      return withParams('/app/models', { id: r.id });
    case 'simulation':
      return withParams('/app/simulation', { twin: r.twin, run: r.run });
    case 'scene':
      return r.id !== undefined ? `/app/scene?${new URLSearchParams({ id: r.id })}` : '/app/scene';
    case 'notFound':
      return r.path;
  }
}

export const twinHref = (id: string): string => routeHref({ page: 'twin', id });

export const sceneHref = (id?: string): string =>
  routeHref(id === undefined ? { page: 'scene' } : { page: 'scene', id });
