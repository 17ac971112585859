/**
 * The ingest workers' real sink: a partition's batch is decoded (ingest-envelope.ts), validated and
 * stored by the ingest service exactly as a single process ingests (IngestService.ingestSequenced:
 * readings appended with the partition's checkpoint in one history commit, bad messages
 * dead-lettered, twins' last values and live events after the commit).
 *
 * Exactly once: under the partition's commit lock (one holder in the whole cluster at a time), the
 * checkpoint is read and every message at or below it skipped. So a redelivery stores nothing, and
 * a fenced-off owner whose commit is still running when its successor commits is serialised with
 * it: the successor then reads the checkpoint that commit wrote.
 */
import type { BusMessage, IngestBatchSink } from '../ports/cluster.js';
import type { HistoryStore } from '../ports/storage-ports.js';
import type { IngestService } from '../telemetry/ingest-service.js';
import { fromBusMessage } from './ingest-envelope.js';

/** Runs fn while holding a cluster-wide lock named `key`. @throws StorageError when it cannot be taken in time */
export interface CommitLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export interface TelemetryBatchSinkOptions {
  ingest: Pick<IngestService, 'ingestSequenced'>;
  history: Pick<HistoryStore, 'readCheckpoint'>;
  /** Names the bus (its subject prefix): checkpoints are `ingest/<bus>/<partition>`. */
  bus: string;
  lock: CommitLock;
}

export class TelemetryBatchSink implements IngestBatchSink {
  constructor(private readonly o: TelemetryBatchSinkOptions) {}

  key(partition: number): string {
    return `ingest/${this.o.bus}/${partition}`;
  }

  checkpoint(partition: number): Promise<number | undefined> {
    return this.o.history.readCheckpoint(this.key(partition));
  }

  commit(partition: number, messages: readonly BusMessage[], lastSeq: number): Promise<void> {
    const key = this.key(partition);
    return this.o.lock.run(key, async () => {
      const at = (await this.o.history.readCheckpoint(key)) ?? 0;
      if (lastSeq <= at) return;
      const fresh = messages.filter((m) => m.seq > at).map(fromBusMessage);
      await this.o.ingest.ingestSequenced(fresh, { key, seq: lastSeq });
    });
  }
}
