/**
 * Where import jobs read their input and write their output log (ADT: inputBlobUri and
 * outputBlobUri). The file adapter takes `file:` URIs inside the imports folder and `http(s):`
 * inputs with a size and time budget (adapters/files/file-import-io.ts).
 */

/** One line of the output log, as ADT writes it (NDJSON). */
export interface ImportLogEntry {
  timestamp: string;
  jobId: string;
  jobType: 'Import';
  logType: 'Info' | 'Warning' | 'Error';
  details: Record<string, unknown>;
}

/** Where an import job writes its log lines. Rejects when the line cannot be written. */
export interface ImportLogSink {
  write(entry: ImportLogEntry): Promise<void>;
}

export interface ImportInput {
  /** The bytes of the input, streamed. Rejects (mid-stream) with a TwinloopError when a budget runs out. */
  stream: AsyncIterable<Uint8Array>;
  /** The size, when the source tells it. */
  totalBytes?: number;
  /** Stops reading and frees the source. */
  close(): void;
}

export interface ImportLog extends ImportLogSink {
  close(): Promise<void>;
}

export interface ImportIo {
  /** Checks the URIs of a new job before it is accepted. @throws ValidationFailed with the reason */
  checkUris(inputBlobUri: string, outputBlobUri: string): void;
  /** Opens the input. @throws ValidationFailed (not allowed, not found), ServiceUnavailable (unreachable) */
  openInput(inputBlobUri: string): Promise<ImportInput>;
  /** Creates the job's output log (empty). */
  openLog(jobId: string, outputBlobUri: string): Promise<ImportLog>;
  /** Removes the job's output log when it is Twinloop's own (in the data folder), never a user's file. */
  removeLog(jobId: string, outputBlobUri: string): Promise<void>;
}

/**
 * Where a history import writes the rows it refuses: each row's bytes as read, after one
 * `# file:line:column Code: reason` line per problem, so the file can be fixed and imported again
 * (with `comment: "#"` in the mapping). Rejects when it cannot be written.
 */
export interface BadRowSink {
  /** The file's header row, written once at the top. */
  header(raw: readonly Uint8Array[]): Promise<void>;
  write(raw: readonly Uint8Array[], reasons: readonly string[]): Promise<void>;
}

export interface BadRowLog extends BadRowSink {
  close(): Promise<void>;
}

/** Where history import jobs read (the same inputs as import jobs) and put their bad rows. */
export interface HistoryImportIo {
  /** Checks a new job's input URI. @throws ValidationFailed with the reason */
  checkInput(inputBlobUri: string): void;
  /** Opens the input. @throws ValidationFailed (not allowed, not found), ServiceUnavailable (unreachable) */
  openInput(inputBlobUri: string): Promise<ImportInput>;
  /** Creates the job's bad-rows file (empty). */
  openBadRows(jobId: string): Promise<BadRowLog>;
  /** Removes the job's bad-rows file (and its upload) when the job is deleted. */
  removeBadRows(jobId: string): Promise<void>;
}
