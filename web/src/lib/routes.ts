/**
 * The app's client routes: `/` (overview), `/app/explorer?q=…`, `/app/twin?id=…`, `/app/alarms`,
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
  | { page: 'scene'; id?: string }
  | { page: 'notFound'; path: string };

export function parseRoute(pathname: string, search = ''): Route {
  if (pathname === '/' || pathname === '' || pathname === '/app' || pathname === '/app/')
    return { page: 'overview' };
  if (pathname === '/app/explorer') {
    const q = new URLSearchParams(search).get('q');
    return q !== null ? { page: 'explorer', query: q } : { page: 'explorer' };
  }
  if (pathname === '/app/alarms') return { page: 'alarms' };
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
    case 'scene':
      return r.id !== undefined ? `/app/scene?${new URLSearchParams({ id: r.id })}` : '/app/scene';
    case 'notFound':
      return r.path;
  }
}

export const twinHref = (id: string): string => routeHref({ page: 'twin', id });

export const sceneHref = (id?: string): string =>
  routeHref(id === undefined ? { page: 'scene' } : { page: 'scene', id });
