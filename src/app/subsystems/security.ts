/**
 * Security material, read first so a bad certificate path fails before anything is opened: the TLS
 * certificate and key (when configured) and the access token (created in the data folder when auth
 * is required and there is none yet).
 */
import { readFileSync } from 'node:fs';
import { TwinloopError } from '../../core/errors/errors.js';
import { authRequired, type TwinloopConfig } from '../config.js';
import { ensureToken } from '../runtime-files.js';

export interface Security {
  tls: { cert: string; key: string } | undefined;
  /** The access token when one is required, else undefined. */
  token: string | undefined;
  /** True when this start created the token (the banner shows it then). */
  tokenCreated: boolean;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TwinloopError('InvalidConfig', `Cannot read the TLS ${what} ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** @throws TwinloopError InvalidConfig when the certificate or key cannot be read. */
export function loadSecurity(config: Readonly<TwinloopConfig>): Security {
  const tls = config.tls
    ? { cert: readPem(config.tls.certFile, 'certificate'), key: readPem(config.tls.keyFile, 'key') }
    : undefined;
  let token: string | undefined;
  let tokenCreated = false;
  if (authRequired(config)) {
    const t = ensureToken(config.dataDir);
    token = t.token;
    tokenCreated = t.created;
  }
  return { tls, token, tokenCreated };
}
