/**
 * Where the app keeps the token: in memory and in sessionStorage (this tab only, gone when it
 * closes; never localStorage, never a cookie, never a URL).
 */
const KEY = 'twinloop.token';

export function loadToken(storage: Pick<Storage, 'getItem'> | undefined): string | undefined {
  try {
    const t = storage?.getItem(KEY);
    return t && t.trim() ? t.trim() : undefined;
  } catch {
    return undefined; // storage refused (privacy mode): memory only
  }
}

export function saveToken(
  storage: Pick<Storage, 'setItem' | 'removeItem'> | undefined,
  token: string | undefined,
): void {
  try {
    if (token) storage?.setItem(KEY, token);
    else storage?.removeItem(KEY);
  } catch {
    // memory only
  }
}
