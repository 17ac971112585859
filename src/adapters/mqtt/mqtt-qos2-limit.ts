/**
 * A cap on inbound QoS 2 messages awaiting their PUBREL, per client. aedes keeps each one (whole)
 * until the client releases it, and a client may leave up to 65,535 unreleased, so without a cap
 * one client could make the broker hold 65,535 packets. aedes 1.2 had this cap built in
 * (`maxInflightInbound`); the 2.0 line, which we use for MQTT 5, does not yet, so the broker
 * mirrors the persistence's incoming store here and refuses a client that exceeds the cap.
 */
import type { Client } from 'aedes';

interface IncomingStore {
  incomingStorePacket(client: Client, packet: { messageId?: number }): Promise<void>;
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void>;
}

export class InboundQos2Limit {
  private readonly awaiting = new Map<string, Set<number>>();

  constructor(readonly max: number) {}

  /** Wraps the broker's persistence so every stored and released QoS 2 message is counted. */
  install(persistence: IncomingStore): void {
    const store = persistence.incomingStorePacket.bind(persistence);
    const del = persistence.incomingDelPacket.bind(persistence);
    persistence.incomingStorePacket = async (client, packet) => {
      await store(client, packet);
      if (packet.messageId === undefined) return;
      let ids = this.awaiting.get(client.id);
      if (!ids) this.awaiting.set(client.id, (ids = new Set()));
      ids.add(packet.messageId);
    };
    persistence.incomingDelPacket = async (client, packet) => {
      try {
        await del(client, packet);
      } finally {
        const ids = this.awaiting.get(client.id);
        if (ids && packet.messageId !== undefined) {
          ids.delete(packet.messageId);
          if (ids.size === 0) this.awaiting.delete(client.id);
        }
      }
    };
  }

  /** Whether a new QoS 2 message from this client would exceed the cap (a resend never does). */
  exceeded(clientId: string, messageId: number | undefined): boolean {
    const ids = this.awaiting.get(clientId);
    if (!ids || (messageId !== undefined && ids.has(messageId))) return false;
    return ids.size >= this.max;
  }
}
