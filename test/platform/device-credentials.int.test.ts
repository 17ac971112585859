/**
 * Devices as principals, end to end: a credential created over the API (auth on) lets one device
 * connect to the embedded broker as its own twin only; revoking it disconnects the device; deleting
 * the twin revokes its credentials.
 */
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

const data = tempDataDir('twinloop-devcred-');
let platform: Platform;
let twinId: string;

function api(method: string, path: string, body?: unknown, token = platform.token) {
  return fetch(`${platform.runtime.httpUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function connect(clientId: string, password: string): Promise<MqttClient> {
  return mqtt.connectAsync(platform.runtime.mqttUrl, {
    reconnectPeriod: 0,
    clientId,
    username: clientId,
    password,
  });
}

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { auth: 'on' });
  const res = await api('POST', `/query?${API}`, { query: 'SELECT T.$dtId FROM DIGITALTWINS T' });
  const ids = ((await res.json()) as { value: { $dtId: string }[] }).value.map((r) => r.$dtId);
  twinId = ids[0]!;
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('device credentials', () => {
  it('are created, listed and revoked over the API, with the platform token only', async () => {
    expect((await api('POST', `/devices/${twinId}/credentials`, {}, 'nope')).status).toBe(401);
    expect((await api('POST', '/devices/no-such-twin/credentials', {})).status).toBe(404);
    const res = await api('POST', `/devices/${twinId}/credentials`, { label: 'bench unit' });
    expect(res.status).toBe(201);
    const made = (await res.json()) as {
      id: string;
      token: string;
      label: string;
      mqtt: { clientId: string };
    };
    expect(made).toMatchObject({ label: 'bench unit', mqtt: { clientId: twinId } });
    expect(made.token).toMatch(/^tldc_dc_[0-9a-f]{16}_/);
    // No body at all is fine too; an unknown member is not.
    const bare = await api('POST', `/devices/${twinId}/credentials`);
    expect(bare.status).toBe(201);
    const bareId = ((await bare.json()) as { id: string }).id;
    expect((await api('POST', `/devices/${twinId}/credentials`, { lable: 'typo' })).status).toBe(400);
    expect((await api('DELETE', `/devices/${twinId}/credentials/${bareId}`)).status).toBe(204);
    const list = (await (await api('GET', `/devices/${twinId}/credentials`)).json()) as { value: unknown[] };
    expect(list.value).toEqual([expect.objectContaining({ id: made.id, label: 'bench unit' })]);
    expect(JSON.stringify(list)).not.toContain(made.token);

    // The device: its own twin only; no $SYS; another client id is refused.
    await expect(connect('someone-else', made.token)).rejects.toThrow();
    const dev = await connect(twinId, made.token);
    dev.on('error', () => undefined);
    const granted = await dev.subscribeAsync(['$SYS/#'], { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted,
    );
    expect(granted).toEqual([128]);
    const desired = await dev.subscribeAsync([`twins/${twinId}/desired`], { qos: 1 });
    expect(desired.map((g) => g.qos)).toEqual([1]);

    // Revoking disconnects it, and it cannot come back.
    const closed = new Promise<void>((r) => dev.once('close', () => r()));
    expect((await api('DELETE', `/devices/${twinId}/credentials/${made.id}`)).status).toBe(204);
    await closed;
    expect((await api('DELETE', `/devices/${twinId}/credentials/${made.id}`)).status).toBe(404);
    await expect(connect(twinId, made.token)).rejects.toThrow();
  });

  it('go with their twin when it is deleted (a new twin with that id has none)', async () => {
    const twin = (await (await api('GET', `/digitaltwins/${twinId}?${API}`)).json()) as {
      $metadata: { $model: string };
    };
    const id = `devcred-${process.pid}`;
    const put = await api('PUT', `/digitaltwins/${id}?${API}`, {
      $metadata: { $model: twin.$metadata.$model },
    });
    expect(put.status).toBe(200);
    const made = (await (await api('POST', `/devices/${id}/credentials`, {})).json()) as { token: string };
    (await connect(id, made.token)).end(true);
    expect((await api('DELETE', `/digitaltwins/${id}?${API}`)).status).toBe(204);
    await new Promise((r) => setTimeout(r, 50));
    expect(
      (await api('PUT', `/digitaltwins/${id}?${API}`, { $metadata: { $model: twin.$metadata.$model } }))
        .status,
    ).toBe(200);
    await expect(connect(id, made.token)).rejects.toThrow();
    expect(
      ((await (await api('GET', `/devices/${id}/credentials`)).json()) as { value: unknown[] }).value,
    ).toEqual([]);
  });
});

describe('device credential routes on hostile input', () => {
  const raw = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${platform.runtime.httpUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.token}`, 'content-type': 'application/json', ...headers },
      body,
    });
  const codeOf = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

  it('refuses hostile keys, deep and huge JSON, bad UTF-8, other media types and cross-site writes', async () => {
    const path = `/devices/${twinId}/credentials`;
    const before = (await platform.storage.credentials.list('default', twinId)).length;
    const cases: [string | Buffer, Record<string, string>, number, string][] = [
      ['{"__proto__":{"label":"x"}}', {}, 400, 'BadRequest'],
      ['{"label":"a","constructor":{"prototype":1}}', {}, 400, 'BadRequest'],
      ['['.repeat(10_000) + ']'.repeat(10_000), {}, 400, 'BadRequest'],
      [Buffer.from([0x7b, 0x22, 0x6c, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), {}, 400, 'BadRequest'],
      [JSON.stringify({ label: 'x'.repeat(201) }), {}, 400, 'BadRequest'],
      ['{"label":"x"}', { 'content-type': 'text/plain' }, 415, 'UnsupportedMediaType'],
      ['{"label":"x"}', { origin: 'https://evil.example' }, 403, 'OriginNotAllowed'],
    ];
    for (const [body, headers, status, code] of cases) {
      const r = await raw(path, body, headers);
      expect(r.status, `${String(body).slice(0, 40)} ${JSON.stringify(headers)}`).toBe(status);
      expect(await codeOf(r)).toBe(code);
    }
    expect(await platform.storage.credentials.list('default', twinId)).toHaveLength(before);
  });

  it('bounds the credentials one twin may hold', async () => {
    const path = `/devices/${twinId}/credentials`;
    let held = (await platform.storage.credentials.list('default', twinId)).length;
    while (held < 20) {
      expect((await api('POST', path, {})).status).toBe(201);
      held++;
    }
    const r = await api('POST', path, { label: 'one too many' });
    expect(r.status).toBe(409);
    expect(await codeOf(r)).toBe('Conflict');
    expect(await platform.storage.credentials.list('default', twinId)).toHaveLength(20);
  });
});
