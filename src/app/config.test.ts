import { describe, expect, it } from 'vitest';
import { authRequired, cliLayer, envLayer, resolveConfig } from './config.js';
import { TwinloopError } from '../core/errors/errors.js';

describe('config', () => {
  it('has working defaults: loopback, embedded broker, no auth needed', () => {
    const cfg = resolveConfig([], '/tmp/x');
    expect(cfg.host).toBe('127.0.0.1');
    expect(cfg.dataDir).toBe('/tmp/x/data');
    expect(cfg.mqtt.url).toBeUndefined();
    expect(authRequired(cfg)).toBe(false);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.mqtt)).toBe(true);
  });

  it('layers env under the command line', () => {
    const cfg = resolveConfig([
      envLayer({ TWINLOOP_HTTP_PORT: '9000', TWINLOOP_MQTT_PORT: '1999', TWINLOOP_HOST: '0.0.0.0' }),
      cliLayer({ httpPort: '9001' }),
    ]);
    expect(cfg.httpPort).toBe(9001);
    expect(cfg.httpPortExplicit).toBe(true);
    expect(cfg.mqtt.port).toBe(1999);
    expect(cfg.mqtt.portExplicit).toBe(true);
    expect(authRequired(cfg)).toBe(true);
  });

  it('reports every problem at once', () => {
    let err: unknown;
    try {
      resolveConfig([
        cliLayer({ httpPort: 'abc', mqttPort: '70000', mqttUrl: 'http://x', logLevel: 'loud' }),
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    const e = err as TwinloopError;
    expect(e.code).toBe('InvalidConfig');
    const pointers = e.problems.map((p) => p.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/httpPort', '/mqtt/port', '/mqtt/url', '/logLevel']));
  });

  it('refuses auth off on a public address', () => {
    expect(() => resolveConfig([cliLayer({ host: '0.0.0.0', auth: 'off' })])).toThrow(
      /only allowed when bound to loopback/,
    );
  });

  it('simulates and shadows by default (speed: from the pilot scenario); flags and env turn them off; a bad value is reported', () => {
    expect(resolveConfig([]).simulation).toEqual({ enabled: true, shadow: true });
    const cfg = resolveConfig([
      envLayer({ TWINLOOP_SIM: 'off', TWINLOOP_SIM_SPEED: '60', TWINLOOP_SHADOW: 'off' }),
    ]);
    expect(cfg.simulation).toEqual({ enabled: false, speed: 60, shadow: false });
    expect(
      resolveConfig([envLayer({ TWINLOOP_SIM: 'off' }), cliLayer({ sim: 'on', simSpeed: '2' })]).simulation,
    ).toEqual({
      enabled: true,
      speed: 2,
      shadow: true,
    });
    let err: TwinloopError | undefined;
    try {
      resolveConfig([cliLayer({ sim: 'maybe', simSpeed: '0' })]);
    } catch (e) {
      err = e as TwinloopError;
    }
    expect(err?.problems.map((p) => p.pointer)).toEqual(
      expect.arrayContaining(['/simulation/enabled', '/simulation/speed']),
    );
  });

  it('bounds storage by default (integrity check size, dead-letter age, size and payload), from env or file', () => {
    const cfg = resolveConfig([]);
    expect(cfg.storage).toEqual({ integrityCheckMaxMB: 1024 });
    expect(cfg.deadLetters).toEqual({ retentionDays: 7, maxMB: 256, maxPayloadBytes: 16384 });
    const env = resolveConfig([
      { deadLetters: { maxMB: 64 } },
      envLayer({
        TWINLOOP_INTEGRITY_CHECK_MAX_MB: '0',
        TWINLOOP_DEADLETTER_RETENTION_DAYS: '30',
        TWINLOOP_DEADLETTER_MAX_PAYLOAD_BYTES: '1024',
      }),
    ]);
    expect(env.storage.integrityCheckMaxMB).toBe(0);
    expect(env.deadLetters).toEqual({ retentionDays: 30, maxMB: 64, maxPayloadBytes: 1024 });
    let err: TwinloopError | undefined;
    try {
      resolveConfig([envLayer({ TWINLOOP_DEADLETTER_MAX_MB: '0', TWINLOOP_INTEGRITY_CHECK_MAX_MB: 'lots' })]);
    } catch (e) {
      err = e as TwinloopError;
    }
    expect(err?.problems.map((p) => p.pointer)).toEqual(
      expect.arrayContaining(['/deadLetters/maxMB', '/storage/integrityCheckMaxMB']),
    );
  });
});
