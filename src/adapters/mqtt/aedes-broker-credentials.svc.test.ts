// The embedded broker authenticating devices against PostgreSQL device credentials: a device gets
// in with its token, a revoked or unknown one does not, and a store that is gone answers
// "server unavailable" (CONNACK 3) instead of letting anybody in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  PG_DEVICE_CREDENTIAL_MIGRATIONS,
  PgDeviceCredentialStore,
} from '../postgres/pg-device-credential-store.js';
import { pgStoreFixture, type PgStoreFixture } from '../postgres/pg-store-test-fixture.js';
import { AedesBroker } from './aedes-broker.js';
import { createIngestStack, type IngestStack } from './mqtt-test-fixture.js';

let dir: string;
let stack: IngestStack;
let fx: PgStoreFixture<PgDeviceCredentialStore>;
let broker: AedesBroker;
const logs: string[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-aedes-pg-'));
  stack = createIngestStack({ dataDir: dir, twins: 3, synchronous: 'NORMAL' });
  fx = await pgStoreFixture([PG_DEVICE_CREDENTIAL_MIGRATIONS], (db) => new PgDeviceCredentialStore(db));
  const log = (m: string) => logs.push(m);
  broker = new AedesBroker({
    host: '127.0.0.1',
    port: 0,
    ingest: stack.service,
    token: 'platform-secret',
    credentials: { verify: (t) => fx.store.verify(t) }, // fx.store changes on reopen
    credentialTimeoutMs: 2000,
    logger: { info: log, warn: log, error: log },
  });
  await broker.start();
});

afterEach(async () => {
  await broker.close();
  await stack.close();
  await fx.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const attempt = (clientId: string, password: string) =>
  mqtt.connectAsync(broker.url, { clientId, username: clientId, password, reconnectPeriod: 0 }).then(
    (c) => ({ connected: true as const, c }),
    (e: unknown) => ({ connected: false as const, code: (e as { code?: number }).code }),
  );

describe('AedesBroker with PostgreSQL device credentials', () => {
  it('lets a device in with its token, and refuses revoked, foreign and unknown tokens', async () => {
    const pump1 = await fx.store.create({ workspace: 'default', twinId: 'pump-1' });
    const ok = await attempt('pump-1', pump1.token);
    expect(ok.connected).toBe(true);
    if (ok.connected) {
      await ok.c.publishAsync('twins/pump-1/telemetry', '{"$ts":1000,"temperature":21}', { qos: 1 });
      await ok.c.endAsync();
    }
    expect(await attempt('pump-2', pump1.token)).toMatchObject({ connected: false, code: 2 });
    await fx.store.revoke('default', pump1.credential.id);
    expect(await attempt('pump-1', pump1.token)).toMatchObject({ connected: false, code: 4 });
    expect(await attempt('pump-1', `tldc_dc_0123456789abcdef_${'A'.repeat(43)}`)).toMatchObject({
      connected: false,
      code: 4,
    });
  });

  it('answers "server unavailable" when the database is gone, and lets the device in once it is back', async () => {
    const pump1 = await fx.store.create({ workspace: 'default', twinId: 'pump-1' });
    await fx.db.close(); // the pool is ended: every query fails
    expect(await attempt('pump-1', pump1.token)).toMatchObject({ connected: false, code: 3 });
    expect(logs.some((l) => /not checked/.test(l))).toBe(true);
    expect(broker.connectedClients).toBe(0);
    await fx.reopen();
    const again = await attempt('pump-1', pump1.token);
    expect(again.connected).toBe(true);
    if (again.connected) await again.c.endAsync();
  });
});
