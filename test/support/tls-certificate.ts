/**
 * Test support (not a test): a self-signed certificate for localhost and 127.0.0.1, made with
 * openssl in `dir`, for the tests and runners that serve Twinloop over HTTPS (the ADT SDK refuses
 * bearer tokens over http://). Clients trust it through NODE_EXTRA_CA_CERTS; nothing turns
 * verification off.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Writes `cert.pem` and `key.pem` into `dir` (valid one day); returns their paths. */
export function makeSelfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
