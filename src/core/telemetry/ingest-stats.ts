/**
 * Counters of the ingest service, read by the metrics adapter (prom-client lives outside core).
 * Plain numbers and a map: incrementing them costs nothing on the hot path.
 */

export interface IngestStatsSnapshot {
  acceptedMessages: number;
  acceptedReadings: number;
  /** Reading sets (one time, one twin/component) accepted. */
  acceptedReadingSets: number;
  deadLetters: number;
  deadLettersByCode: Record<string, number>;
  /** Appends to history that failed (the messages were not acknowledged). */
  storageFailures: number;
  /** Values derived by the platform (shadow-mode residuals...) stored as telemetry. */
  derivedReadings: number;
}

export class IngestStats {
  acceptedMessages = 0;
  acceptedReadings = 0;
  acceptedReadingSets = 0;
  deadLetters = 0;
  storageFailures = 0;
  derivedReadings = 0;
  readonly deadLettersByCode = new Map<string, number>();

  countDeadLetter(code: string): void {
    this.deadLetters++;
    this.deadLettersByCode.set(code, (this.deadLettersByCode.get(code) ?? 0) + 1);
  }

  snapshot(): IngestStatsSnapshot {
    return {
      acceptedMessages: this.acceptedMessages,
      acceptedReadings: this.acceptedReadings,
      acceptedReadingSets: this.acceptedReadingSets,
      deadLetters: this.deadLetters,
      deadLettersByCode: Object.fromEntries(this.deadLettersByCode),
      storageFailures: this.storageFailures,
      derivedReadings: this.derivedReadings,
    };
  }
}
