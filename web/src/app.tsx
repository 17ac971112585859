/**
 * The app's frame: the header (navigation, live-stream state, theme, log out), the login when the
 * server wants a token, and the page of the current client route. Pages are loaded on first use
 * (the overview's JavaScript does not carry the graph and chart libraries).
 */
import { Suspense, lazy, useCallback, useEffect, useMemo, useState } from 'react';
import { createApiClient } from './api/client.js';
import { LiveClient, liveUrl, type LiveStatus } from './api/live.js';
import { AppContext, ThemeContext, type AppServices } from './app-context.js';
import { Link } from './components/link.js';
import { parseRoute, type Route } from './lib/routes.js';
import { loadToken, saveToken } from './lib/token-store.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';

const Explorer = lazy(() => import('./pages/explorer.js').then((m) => ({ default: m.Explorer })));
const TwinPage = lazy(() => import('./pages/twin-page.js').then((m) => ({ default: m.TwinPage })));
const Alarms = lazy(() => import('./pages/alarms.js').then((m) => ({ default: m.Alarms })));
const DeadLetters = lazy(() => import('./pages/dead-letters.js').then((m) => ({ default: m.DeadLetters })));
const Models = lazy(() => import('./pages/models.js').then((m) => ({ default: m.Models })));
const Simulation = lazy(() => import('./pages/simulation.js').then((m) => ({ default: m.Simulation })));
// The scene page loads three.js itself, when it draws (not even this chunk carries it).
const ScenePage = lazy(() => import('./pages/scene-page.js').then((m) => ({ default: m.ScenePage })));

type Theme = 'light' | 'dark' | 'system';

function session(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => {
    const t = (() => {
      try {
        return window.localStorage.getItem('twinloop.theme');
      } catch {
        return null;
      }
    })();
    return t === 'light' || t === 'dark' ? t : 'system';
  });
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', theme);
    try {
      if (theme === 'system') window.localStorage.removeItem('twinloop.theme');
      else window.localStorage.setItem('twinloop.theme', theme);
    } catch {
      // not kept
    }
  }, [theme]);
  return [theme, setTheme];
}

export function App() {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.pathname, location.search));
  const [token, setToken] = useState<string | undefined>(() => loadToken(session()));
  const [needsLogin, setNeedsLogin] = useState(false);
  const [liveStatus, setLiveStatus] = useState<LiveStatus>({ state: 'closed' });
  const [theme, setTheme] = useTheme();

  useEffect(() => {
    const onPop = () => setRoute(parseRoute(location.pathname, location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const navigate = useCallback((href: string) => {
    history.pushState(null, '', href);
    const u = new URL(href, location.href);
    setRoute(parseRoute(u.pathname, u.search));
    window.scrollTo(0, 0);
  }, []);

  const services = useMemo<AppServices>(() => {
    const api = createApiClient({ token: () => token, onUnauthorized: () => setNeedsLogin(true) });
    const live = new LiveClient(liveUrl(location), () => token);
    return {
      api,
      live,
      navigate,
      hasToken: token !== undefined,
      logout: () => {
        saveToken(session(), undefined);
        setToken(undefined);
        setNeedsLogin(true);
      },
    };
  }, [token, navigate]);

  useEffect(() => {
    const off = services.live.onStatus(setLiveStatus);
    return () => {
      off();
      services.live.close();
    };
  }, [services]);

  useEffect(() => {
    document.title = `${titleOf(route)} · Twinloop`;
  }, [route]);

  const login = (t: string) => {
    saveToken(session(), t);
    setToken(t);
    setNeedsLogin(false);
  };

  return (
    <AppContext.Provider value={services}>
      <ThemeContext.Provider value={theme}>
        <header className="top">
          <Link href="/" className="brand" aria-label="Twinloop overview">
            Twinloop
          </Link>
          <nav aria-label="Main">
            <Link href="/" aria-current={route.page === 'overview' ? 'page' : undefined}>
              Overview
            </Link>
            <Link href="/app/explorer" aria-current={route.page === 'explorer' ? 'page' : undefined}>
              Explorer
            </Link>
            <Link href="/app/alarms" aria-current={route.page === 'alarms' ? 'page' : undefined}>
              Alarms
            </Link>
            <Link href="/app/scene" aria-current={route.page === 'scene' ? 'page' : undefined}>
              3D
            </Link>
            <Link href="/app/simulation" aria-current={route.page === 'simulation' ? 'page' : undefined}>
              What if
            </Link>
            <Link href="/app/models" aria-current={route.page === 'models' ? 'page' : undefined}>
              Models
            </Link>
            <Link href="/app/deadletters" aria-current={route.page === 'deadletters' ? 'page' : undefined}>
              Dead letters
            </Link>
            <a href="/docs">API docs</a>
          </nav>
          <div className="tools">
            {(liveStatus.state !== 'closed' || liveStatus.error) && (
              <span className="live-state" role="status" title={liveStatus.error}>
                <span className={`live-dot ${liveStatus.state}`} aria-hidden="true" />{' '}
                {liveStatus.state === 'open'
                  ? 'Live'
                  : liveStatus.state === 'connecting'
                    ? 'Connecting…'
                    : 'Offline'}
              </span>
            )}
            <label>
              <span className="sr-only">Theme</span>
              <select aria-label="Theme" value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
                <option value="system">System theme</option>
                <option value="light">Light</option>
                <option value="dark">Dark</option>
              </select>
            </label>
            {token && (
              <button type="button" onClick={services.logout}>
                Log out
              </button>
            )}
          </div>
        </header>
        <main id="main">
          {needsLogin ? (
            <Login onToken={login} wrong={token !== undefined} />
          ) : (
            <Suspense fallback={<p className="muted">Loading…</p>}>
              <Page route={route} />
            </Suspense>
          )}
        </main>
      </ThemeContext.Provider>
    </AppContext.Provider>
  );
}

function titleOf(r: Route): string {
  switch (r.page) {
    case 'overview':
      return 'Overview';
    case 'explorer':
      return 'Explorer';
    case 'twin':
      return r.id;
    case 'alarms':
      return 'Alarms';
    case 'deadletters':
      return 'Dead letters';
    case 'models':
      return r.id ?? 'Models';
    case 'simulation':
      return r.twin ? `What if: ${r.twin}` : 'What if';
    case 'scene':
      return r.id !== undefined ? `${r.id} in 3D` : '3D scenes';
    case 'notFound':
      return 'Not found';
  }
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'explorer':
      return <Explorer key={route.query ?? ''} initialQuery={route.query} />;
    case 'twin':
      return <TwinPage key={route.id} id={route.id} />;
    case 'alarms':
      return <Alarms />;
    case 'deadletters':
      return (
        <DeadLetters
          key={`${route.source ?? ''}\u0000${route.twin ?? ''}`}
          source={route.source}
          twin={route.twin}
        />
      );
    case 'models':
      return <Models id={route.id} />;
    case 'simulation':
      return <Simulation twin={route.twin} run={route.run} />;
    case 'scene':
      return <ScenePage key={route.id ?? ''} id={route.id} />;
    case 'notFound':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at <code>{route.path}</code>. <Link href="/">Go to the overview</Link>.
          </p>
        </section>
      );
  }
}
