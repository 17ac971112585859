import { describe, expect, it } from 'vitest';
import { authRequired, cliLayer, envLayer, resolveConfig } from './config.js';
import { TwinloopError } from '../core/errors/errors.js';
import { caughtSync } from '../../test/support/caught.js';

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

  it('has CORS off and no extra hosts by default; --cors-origin / --allowed-host take repeats and comma lists over env and file', () => {
    expect(resolveConfig([]).http).toEqual({ corsOrigins: [], allowedHosts: [] });
    const cfg = resolveConfig([
      { http: { corsOrigins: ['https://file.example'] } },
      envLayer({
        TWINLOOP_CORS_ORIGINS: 'https://env.example',
        TWINLOOP_ALLOWED_HOSTS: 'twins.lan, proxy:8443',
      }),
      cliLayer({ corsOrigin: ['https://a.example/', 'http://localhost:5173,https://b.example'] }),
    ]);
    expect(cfg.http.corsOrigins).toEqual(['https://a.example', 'http://localhost:5173', 'https://b.example']);
    expect(cfg.http.allowedHosts).toEqual(['twins.lan', 'proxy:8443']);
    expect(Object.isFrozen(cfg.http.corsOrigins)).toBe(true);
    expect(resolveConfig([{ http: { corsOrigins: ['https://file.example'] } }]).http.corsOrigins).toEqual([
      'https://file.example',
    ]);
  });

  it('refuses a CORS origin that is not scheme://host[:port] (no "*", no path) and a bad host name', () => {
    let err: TwinloopError | undefined;
    try {
      resolveConfig([
        cliLayer({ corsOrigin: '*,https://ok.example,ftp://x,https://a.example/path', allowedHost: 'a b' }),
      ]);
    } catch (e) {
      err = e as TwinloopError;
    }
    expect(err?.code).toBe('InvalidConfig');
    expect(err?.problems.map((p) => p.pointer)).toEqual(
      expect.arrayContaining([
        '/http/corsOrigins/0',
        '/http/corsOrigins/2',
        '/http/corsOrigins/3',
        '/http/allowedHosts/0',
      ]),
    );
    expect(err?.problems.map((p) => p.pointer)).not.toContain('/http/corsOrigins/1');
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

  it('reports derived values by exception by default; TWINLOOP_ANALYTICS_DEADBANDS=off stores every one', () => {
    expect(resolveConfig([]).analytics.deadbands).toBe(true);
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_DEADBANDS: 'off' })]).analytics.deadbands).toBe(
      false,
    );
    expect(() => resolveConfig([envLayer({ TWINLOOP_ANALYTICS_DEADBANDS: 'sometimes' })])).toThrow(
      /analytics.*deadbands/,
    );
  });

  it('runs the analytics in a worker thread by default; the env turns it off; a bad value is reported', () => {
    expect(resolveConfig([]).analytics).toMatchObject({ enabled: true, worker: true });
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER: 'off' })]).analytics).toMatchObject({
      enabled: true,
      worker: false,
    });
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS: 'off' })]).analytics).toMatchObject({
      enabled: false,
      worker: true,
    });
    let err: TwinloopError | undefined;
    try {
      resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER: 'maybe' })]);
    } catch (e) {
      err = e as TwinloopError;
    }
    expect(err?.code).toBe('InvalidConfig');
    expect(err?.message).toMatch(/analytics.*worker/);
  });

  it('runs the analytics worker at nice 10 by default; the env sets 0..19; anything else is reported', () => {
    expect(resolveConfig([]).analytics.workerNice).toBe(10);
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_NICE: '0' })]).analytics.workerNice).toBe(0);
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_NICE: '19' })]).analytics.workerNice).toBe(19);
    for (const bad of ['20', '-1', '2.5', 'low', '1e999']) {
      expect(() => resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_NICE: bad })]), bad).toThrow(
        /analytics.*workerNice/,
      );
    }
  });

  it('puts the analytics worker in SCHED_IDLE by default; the env turns it off; a bad value is reported', () => {
    expect(resolveConfig([]).analytics.workerIdle).toBe(true);
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_IDLE: 'off' })]).analytics.workerIdle).toBe(
      false,
    );
    expect(resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_IDLE: 'on' })]).analytics.workerIdle).toBe(
      true,
    );
    expect(() => resolveConfig([envLayer({ TWINLOOP_ANALYTICS_WORKER_IDLE: 'sometimes' })])).toThrow(
      /TWINLOOP_ANALYTICS_WORKER_IDLE|workerIdle/,
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

  it('bounds what-if trajectories in memory: 256 MiB kept, 64 MiB a run by default; env sets them; a run larger than the total is refused', () => {
    expect(resolveConfig([]).whatIf).toEqual({ maxKeptMiB: 256, maxResultMiB: 64 });
    const cfg = resolveConfig([
      envLayer({ TWINLOOP_WHATIF_MAX_KEPT_MIB: '512', TWINLOOP_WHATIF_MAX_RESULT_MIB: '128' }),
    ]);
    expect(cfg.whatIf).toEqual({ maxKeptMiB: 512, maxResultMiB: 128 });
    expect(() => resolveConfig([{ whatIf: { maxKeptMiB: 32, maxResultMiB: 64 } }])).toThrow(
      /whatIf.maxResultMiB \(64\) cannot exceed whatIf.maxKeptMiB \(32\)/,
    );
    expect(() => resolveConfig([envLayer({ TWINLOOP_WHATIF_MAX_KEPT_MIB: 'lots' })])).toThrow(
      /\/whatIf\/maxKeptMiB/,
    );
  });

  it('bounds storage by default (integrity check size, dead-letter age, size and payload), from env or file', () => {
    const cfg = resolveConfig([]);
    expect(cfg.storage).toEqual({ integrityCheckMaxMB: 1024, poolSize: 10, partition: 'day' });
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

  it('every query has a budget by default; file, env and command line set it; bad values are reported', () => {
    const d = resolveConfig([], '/tmp/x');
    expect(d.query).toMatchObject({ maxVisits: 1_000_000, timeoutMs: 10_000, sliceMs: 5 });
    expect(d.query.maxHops).toBeUndefined(); // no hop cap: [*] walks as far as the graph goes
    expect(d.query.liveMaxVisits).toBe(50_000); // live evaluations are synchronous: a smaller budget
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

describe('config: event routes (issue 8)', () => {
  it('checks declared endpoints and routes as the API does, every problem at once', () => {
    let err: unknown;
    try {
      resolveConfig([
        {
          eventRoutes: {
            endpoints: [
              { name: 'hook', type: 'webhook', url: 'ftp://x' },
              { name: 'bus', type: 'nats', subject: 'a.b' },
              { name: 'hook', type: 'mqtt', topic: 't' },
            ],
            routes: [{ id: 'r', endpointName: 'nope', filter: "type = 'x' AND" }],
            initialBackoffMs: 1000,
            maxBackoffMs: 10,
          },
        },
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).problems.map((p) => p.pointer)).toEqual(
      expect.arrayContaining([
        '/eventRoutes/endpoints/0/url',
        '/eventRoutes/endpoints/1/url',
        '/eventRoutes/endpoints/2/name',
        '/eventRoutes/routes/0/endpointName',
        '/eventRoutes/routes/0/filter',
        '/eventRoutes/maxBackoffMs',
      ]),
    );
  });

  it('takes a valid declaration and TWINLOOP_NATS_URL', () => {
    const cfg = resolveConfig([
      {
        eventRoutes: {
          endpoints: [{ name: 'bus', type: 'nats', subject: 'twins.events' }],
          routes: [{ id: 'all', endpointName: 'bus', filter: 'true' }],
        },
      },
      envLayer({ TWINLOOP_NATS_URL: 'nats://127.0.0.1:4222' }),
    ]);
    expect(cfg.eventRoutes.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(cfg.eventRoutes.routes).toHaveLength(1);
    expect(Object.isFrozen(cfg.eventRoutes.endpoints[0])).toBe(true);
  });
});

describe('config: store, role and bus (issue 9)', () => {
  it('defaults to the embedded store, one process and no bus', () => {
    const cfg = resolveConfig([]);
    expect(cfg.storage.url).toBeUndefined();
    expect(cfg.role).toBe('all');
    expect(cfg.bus).toEqual({ partitions: 12, prefix: 'twinloop' });
  });

  it('takes --store, --role and --bus over the environment, the environment over a file', () => {
    const env = envLayer({
      TWINLOOP_STORE: 'postgres://env@db/one',
      TWINLOOP_ROLE: 'worker',
      TWINLOOP_BUS: 'nats://env:4222',
    });
    const cli = cliLayer({ store: 'postgres://cli@db/two', role: 'api', bus: 'nats://cli:4222' });
    const both = resolveConfig([{ storage: { url: 'postgres://file@db/zero' } }, env, cli]);
    expect(both.storage.url).toBe('postgres://cli@db/two');
    expect(both.role).toBe('api');
    expect(both.bus.url).toBe('nats://cli:4222');
    expect(resolveConfig([env]).storage.url).toBe('postgres://env@db/one');
  });

  it('a cluster role without a shared store and a bus is refused, saying what to add', () => {
    const err = caughtSync(() => resolveConfig([{ role: 'worker' }]));
    expect(err.code).toBe('InvalidConfig');
    expect(err.message).toMatch(/role "worker" needs a PostgreSQL store/);
    expect(err.message).toMatch(/role "worker" needs a NATS JetStream bus/);
  });

  it('a store URL that is not PostgreSQL is refused without echoing its password', () => {
    const err = caughtSync(() => resolveConfig([cliLayer({ store: 'mysql://root:hunter2@db/x' })]));
    expect(err.message).toMatch(/\/storage\/url/);
    expect(err.message).not.toMatch(/hunter2/);
    const bad = caughtSync(() => resolveConfig([cliLayer({ role: 'boss' })]));
    expect(bad.message).toMatch(/\/role/);
  });
});
