/**
 * The official Azure Digital Twins SDK against Twinloop over HTTPS. The test makes a self-signed
 * certificate with openssl, serves Twinloop with it (and a bearer token), and runs the scenario in a
 * child process that trusts the certificate through NODE_EXTRA_CA_CERTS — no verification is turned off.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSelfSignedCertificate } from '../support/tls-certificate.js';
import { startTestServer, type TestServer } from './http-fixture.js';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');

describe('@azure/digital-twins-core SDK over HTTPS', () => {
  let dir: string;
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twinloop-tls-'));
    makeSelfSignedCertificate(dir);
    s = await startTestServer({
      tls: {
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      },
      token: 'sdk-token',
    });
    url = (await s.http.listen()).url;
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a plain client without the certificate is refused (the TLS is real)', async () => {
    const err = await fetch(`${url}/healthz`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('runs the whole ADT scenario with the official SDK', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(here, 'adt-sdk-scenario.ts'), url],
      {
        cwd: root,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
        timeout: 60_000,
      },
    );
    const o = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(o.modelsCreated).toBe(4);
    expect(o.modelsListed).toEqual([
      'dtmi:test:Room;1',
      'dtmi:test:Sensor;1',
      'dtmi:test:Space;1',
      'dtmi:test:Thermostat;1',
    ]);
    expect(o.modelDefinitionId).toBe('dtmi:test:Room;1');
    expect(o.roomEtagHeader).toBe(o.roomEtagBody);
    expect(o.createOnlyAgain).toBe(412);
    expect(o.updateEtagChanged).toBe(true);
    expect(o.staleUpdate).toBe(412);
    expect(o.temperature).toBe(23);
    expect(o.setPoint).toBe(21);
    expect(o.relEtag).toBe(true);
    expect(o.thirdContains).toBe(400); // maxMultiplicity 2
    expect(o.relationships).toEqual(['c1', 'c2']);
    expect(o.incoming).toEqual(['room-1']);
    expect(o.queryCount).toBe(25);
    expect(o.queryPages).toBe(3);
    expect(o.stringTelemetry).toBe('ok');
    expect(o.telemetryOutsideModel).toBe('ok');
    expect(o.sourceTime).toBe('ok');
    expect(o.sourceTimeRead).toBe('2024-05-01T12:00:00.1234567Z');
    expect(o.targetMissing).toBe('TargetTwinNotFound');
    expect(o.movedModel).toBe('dtmi:test:Space;1');
    expect(o.deleteRelated).toBe(400);
    expect(o.deleteAfter).toBe('ok');
    expect(o.getDeleted).toBe(404);
    expect(o.decommissioned).toBe(true);
    expect(o.twinOfDecommissioned).toBe(400);
    expect(o.deleteUsedModel).toBe('ModelReferencesNotDeleted');
    expect(o.deleteTargetOnlyModel).toBe('ok');
    expect(o.modelGoneAfterDelete).toBe(404);
    // The telemetry the SDK published is durable history.
    const series = (await s.w.storage.history.listSeries('default', 'room-1')).find(
      (x) => x.path === 'humidity',
    );
    expect(series?.lastValue).toBe(56);
    // The value outside the model is kept, not dropped.
    const letters = await s.w.storage.deadLetters.list({ workspace: 'default', limit: 10, twinId: 'room-1' });
    expect(
      letters.some((l) => l.code === 'InvalidTelemetry' && l.reason.includes('1 value(s) not stored')),
    ).toBe(true);
  });
});
