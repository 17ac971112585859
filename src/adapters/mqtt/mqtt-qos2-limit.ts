/**
 * A cap on inbound QoS 2 messages awaiting their PUBREL, per client. aedes keeps each one (whole)
 * until the client releases it, and a client may leave up to 65,535 unreleased, so without a cap
 * one client could make the broker hold 65,535 packets. aedes 1.2 had this cap built in
 * (`maxInflightInbound`); the 2.0 line, which we use for MQTT 5, does not yet, so the broker counts
 * them here (a place taken on arrival, freed on PUBREL) and disconnects a client over the cap.
 */
import type { Client } from 'aedes';

interface IncomingStore {
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void>;
}

export class InboundQos2Limit {
  private readonly awaiting = new Map<string, Set<number>>();

  constructor(readonly max: number) {}

  /** Wraps the broker's persistence so a released (PUBREL) message frees its place. */
  install(persistence: IncomingStore): void {
    const del = persistence.incomingDelPacket.bind(persistence);
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

  /**
   * Takes a place for a QoS 2 message when it arrives (before it is stored: the packets of one
   * socket read are handled concurrently); false when the client already has `max` unreleased.
   * A resend of a message that has its place is always taken.
   */
  take(clientId: string, messageId: number | undefined): boolean {
    if (messageId === undefined) return true;
    let ids = this.awaiting.get(clientId);
    if (ids?.has(messageId)) return true;
    if (ids && ids.size >= this.max) return false;
    if (!ids) this.awaiting.set(clientId, (ids = new Set()));
    ids.add(messageId);
    return true;
  }
}
