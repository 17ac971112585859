/** What every page uses: the API client, the live stream, the token, navigation. */
import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client.js';
import type { LiveClient } from './api/live.js';

export interface AppServices {
  api: ApiClient;
  live: LiveClient;
  navigate: (href: string) => void;
  /** True when the user gave a token (the server asked for one). */
  hasToken: boolean;
  logout: () => void;
}

export const AppContext = createContext<AppServices | undefined>(undefined);

export function useApp(): AppServices {
  const s = useContext(AppContext);
  if (!s) throw new Error('useApp outside <AppContext.Provider>');
  return s;
}

/** The theme chosen ('light', 'dark' or 'system'): charts and the graph read their colours again when it changes. */
export const ThemeContext = createContext<string>('system');
