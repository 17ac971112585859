import { describe, expect, it } from 'vitest';
import { authRequired, cliLayer, envLayer, resolveConfig } from './config.js';
import { TwinloopError } from '../core/errors/errors.js';

const InvalidConfigLike = /mqtt\/maxPacketBytes|maxPacketBytes/;

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

  it('takes the MQTT packet-size limit from a file or the environment; it may not be below maxMessageBytes', () => {
    expect(resolveConfig([]).mqtt.maxPacketBytes).toBeUndefined(); // the broker derives it from maxMessageBytes
    const cfg = resolveConfig([
      { mqtt: { maxMessageBytes: 4096 } },
      envLayer({ TWINLOOP_MQTT_MAX_PACKET_BYTES: '65536' }),
    ]);
    expect(cfg.mqtt.maxPacketBytes).toBe(65536);
    expect(() => resolveConfig([{ mqtt: { maxPacketBytes: 2048 } }])).toThrow(
      /mqtt.maxPacketBytes \(2048\) must be at least mqtt.maxMessageBytes \(262144\)/,
    );
    expect(() => resolveConfig([envLayer({ TWINLOOP_MQTT_MAX_PACKET_BYTES: 'big' })])).toThrow(
      InvalidConfigLike,
    );
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
});
