/**
 * The MQTT connector: the embedded broker (aedes, devices log in with their credentials or the
 * token; a busy default port moves to the next free one) or, with `mqtt.url`, a client of an external
 * broker. Either way it feeds telemetry to ingest and is the device channel commands and desired
 * state go out on. A deleted twin's device credentials are revoked with it.
 */
import type { Logger } from 'pino';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { DeviceChannel, DeviceInbox } from '../../core/ports/device-channel.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import { AedesBroker } from '../../adapters/mqtt/aedes-broker.js';
import { ensureMqttClientId } from '../../adapters/mqtt/mqtt-client-id.js';
import { MqttClientIngest } from '../../adapters/mqtt/mqtt-client-ingest.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import type { Security } from './security.js';
import { bindWithFallback, subsystem, type Subsystem } from './subsystem.js';

export interface MqttSubsystem extends Subsystem {
  /** Where commands and desired state go out. */
  channel: DeviceChannel;
  /** The broker devices connect to (the embedded one's, as bound, or the external one's). */
  mqttUrl: string;
  mqttLogger: Logger;
  /** Clients connected to the embedded broker (0 with an external broker). */
  brokerClients: () => number;
  /** Disconnects the sessions of a revoked credential (embedded broker only). */
  revokedCredential: (id: string) => void;
}

export function startMqtt(o: {
  config: Readonly<Pick<TwinloopConfig, 'mqtt' | 'host' | 'dataDir'>>;
  logger: Logger;
  security: Pick<Security, 'tls' | 'token'>;
  storage: Pick<Storage, 'credentials'>;
  ingest: IngestService;
  live: LiveEventBus;
  /** Where devices' command responses, reported state and presence go. */
  inbox: DeviceInbox;
}): Promise<MqttSubsystem> {
  const { config, logger, storage, ingest, live } = o;
  const { tls, token } = o.security;
  return subsystem(logger, async (closers) => {
    const mqttLogger = logger.child({ component: 'mqtt' });
    const mqttLog = {
      info: (msg: string, meta?: Record<string, unknown>) => mqttLogger.info(meta ?? {}, msg),
      warn: (msg: string, meta?: Record<string, unknown>) => mqttLogger.warn(meta ?? {}, msg),
      error: (msg: string, meta?: Record<string, unknown>) => mqttLogger.error(meta ?? {}, msg),
    };
    let mqttUrl: string;
    let brokerClients: () => number = () => 0;
    let revokedCredential: (id: string) => void = () => undefined;
    let channel: DeviceChannel;
    if (config.mqtt.url) {
      const client = new MqttClientIngest({
        url: config.mqtt.url,
        // Random, kept in the data folder (0600): a restart resumes the broker's persistent session,
        // and nobody can guess the id to take that session over. Never logged (its fingerprint is).
        clientId: ensureMqttClientId(config.dataDir).clientId,
        ingest,
        inbox: o.inbox,
        logger: mqttLog,
        maxMessageBytes: config.mqtt.maxMessageBytes,
      });
      await client.start();
      closers.push(() => client.close());
      channel = client;
      mqttUrl = config.mqtt.url;
    } else {
      const broker = await bindWithFallback(
        'MQTT',
        config.mqtt.port,
        config.mqtt.portExplicit,
        logger,
        async (port) => {
          const b = new AedesBroker({
            host: config.host,
            port,
            tls,
            token,
            credentials: storage.credentials,
            ingest,
            inbox: o.inbox,
            logger: mqttLog,
            maxMessageBytes: config.mqtt.maxMessageBytes,
            maxPacketBytes: config.mqtt.maxPacketBytes,
          });
          try {
            await b.start();
          } catch (e) {
            await b.close().catch(() => undefined);
            throw e;
          }
          return b;
        },
      );
      closers.push(() => broker.close());
      channel = broker;
      mqttUrl = broker.url;
      brokerClients = () => broker.connectedClients;
      revokedCredential = (id) => broker.disconnectCredential(id);
    }
    // A deleted twin's device credentials go with it (a new twin reusing the id starts without them).
    closers.push(
      live.subscribe((events) => {
        for (const e of events) {
          if (e.type !== 'twinDeleted') continue;
          storage.credentials.revokeTwin(e.workspace, e.twinId).catch((err: unknown) => {
            mqttLogger.error(
              { err, twin: e.twinId },
              'could not revoke the device credentials of a deleted twin',
            );
          });
        }
      }),
    );
    return { channel, mqttUrl, mqttLogger, brokerClients, revokedCredential };
  });
}
