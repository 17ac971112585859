/**
 * A packet-size limit for aedes clients: mqtt-packet buffers a whole packet before parsing it, and
 * its length field allows 256 MiB, so one client could make the broker hold that much. The limit is
 * checked right after the fixed header's length is read: a larger packet is refused (the client
 * gets a parse error and is disconnected), and at most one socket read of it is ever held.
 */
import type { Client } from 'aedes';
import type { MqttLogger } from './mqtt-message-handler.js';

interface PacketParser {
  packet: { cmd?: string; length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

/** Installs the limit on one client's parser (aedes makes one parser per connection). */
export function limitPacketSize(client: Client, maxBytes: number, log: MqttLogger): void {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function') {
    throw new Error('aedes internals changed: cannot install the MQTT packet-size limit');
  }
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = () => {
    const done = parseLength();
    if (done && parser.packet.length > maxBytes) {
      const who = client.id ? `'${client.id}'` : 'before CONNECT';
      const address = remoteAddress(client);
      log.warn(
        `MQTT client ${who}${address} sent a ${parser.packet.cmd ?? ''} packet of ${parser.packet.length} bytes, more than the limit of ${maxBytes}: disconnected.`,
      );
      parser._emitError(
        new Error(`packet of ${parser.packet.length} bytes exceeds the limit of ${maxBytes}`),
      );
      return false;
    }
    return done;
  };
}

function remoteAddress(client: Client): string {
  const conn = client.conn as { remoteAddress?: string; remotePort?: number };
  return conn.remoteAddress ? ` (${conn.remoteAddress}:${conn.remotePort ?? '?'})` : '';
}
