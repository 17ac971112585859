import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRoute, routeHref, twinHref } from './routes.js';

describe('client routes', () => {
  it('parses the pages', () => {
    expect(parseRoute('/')).toEqual({ page: 'overview' });
    expect(parseRoute('/app')).toEqual({ page: 'overview' });
    expect(parseRoute('/app/explorer')).toEqual({ page: 'explorer' });
    expect(parseRoute('/app/explorer', '?q=SELECT%20*')).toEqual({ page: 'explorer', query: 'SELECT *' });
    expect(parseRoute('/app/alarms')).toEqual({ page: 'alarms' });
    expect(parseRoute('/app/twin', '?id=pump-1a')).toEqual({ page: 'twin', id: 'pump-1a' });
    expect(parseRoute('/app/nope')).toEqual({ page: 'notFound', path: '/app/nope' });
    expect(parseRoute('/app/twin', '')).toEqual({ page: 'notFound', path: '/app/twin' });
    // A malformed escape is not a crash.
    expect(parseRoute('/app/twin', '?id=%E0%A4%A').page).toBe('twin');
  });

  it('round-trips any twin id and any query through an href (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ minLength: 1 }),
          fc.constantFrom('.', '..', '../..', '#x', '?a=b&id=c', '%2e%2e'),
        ),
        (id) => {
          const href = twinHref(id);
          const u = new URL(href, 'http://x');
          expect(u.pathname).toBe('/app/twin');
          expect(u.hash).toBe(''); // nothing of the id leaks into the #hash
          expect(parseRoute(u.pathname, u.search)).toEqual({ page: 'twin', id });
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string(), (q) => {
        const u = new URL(routeHref({ page: 'explorer', query: q }), 'http://x');
        expect(parseRoute(u.pathname, u.search)).toEqual({ page: 'explorer', query: q });
      }),
    );
  });
});
