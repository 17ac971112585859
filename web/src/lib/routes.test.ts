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
    expect(parseRoute('/app/deadletters')).toEqual({ page: 'deadletters' });
    expect(parseRoute('/app/deadletters', '?source=mqtt&twin=a%2Fb&x=1')).toEqual({
      page: 'deadletters',
      source: 'mqtt',
      twin: 'a/b',
    });
    expect(parseRoute('/app/models', '?id=dtmi:x:P;1')).toEqual({ page: 'models', id: 'dtmi:x:P;1' });
    expect(parseRoute('/app/models', '?id=')).toEqual({ page: 'models' });
    expect(parseRoute('/app/simulation', '?twin=pump-3a&run=w1')).toEqual({
      page: 'simulation',
      twin: 'pump-3a',
      run: 'w1',
    });
    expect(parseRoute('/app/simulation', '?__proto__=x')).toEqual({ page: 'simulation' });
    // A malformed escape is not a crash.
    expect(parseRoute('/app/twin', '?id=%E0%A4%A').page).toBe('twin');
  });

  it('round-trips the filters of the ops pages through an href (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        for (const r of [
          { page: 'deadletters', source: a, twin: b },
          { page: 'models', id: a },
          { page: 'simulation', twin: a, run: b },
        ] as const) {
          const u = new URL(routeHref(r), 'http://x');
          expect(u.hash).toBe('');
          expect(parseRoute(u.pathname, u.search)).toEqual(r);
        }
      }),
      { numRuns: 300 },
    );
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
