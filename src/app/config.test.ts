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

  it('every query has a budget by default; file, env and command line set it; bad values are reported', () => {
    const d = resolveConfig([], '/tmp/x');
    expect(d.query).toMatchObject({ maxVisits: 1_000_000, timeoutMs: 10_000, sliceMs: 5 });
    expect(d.query.maxHops).toBeUndefined(); // no hop cap: [*] walks as far as the graph goes
    expect(Object.isFrozen(d.query)).toBe(true);
    const cfg = resolveConfig([
      { query: { sliceMs: 2, maxCursors: 10 } } as never,
      envLayer({ TWINLOOP_QUERY_MAX_VISITS: '5000', TWINLOOP_QUERY_TIMEOUT_MS: '2000' }),
      cliLayer({ queryTimeoutMs: '3000', queryMaxHops: '50' }),
    ]);
    expect(cfg.query).toMatchObject({
      maxVisits: 5000,
      timeoutMs: 3000,
      sliceMs: 2,
      maxHops: 50,
      maxCursors: 10,
    });
    let err: unknown;
    try {
      resolveConfig([
        envLayer({ TWINLOOP_QUERY_MAX_VISITS: 'lots' }),
        cliLayer({ queryTimeoutMs: '0', queryMaxHops: '-1' }),
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    const pointers = (err as TwinloopError).problems.map((p) => p.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining(['/query/maxVisits', '/query/timeoutMs', '/query/maxHops']),
    );
  });
});
