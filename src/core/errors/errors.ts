/**
 * The one catalogue of Twinloop's errors. Every error that leaves the core or an adapter is a
 * TwinloopError with a stable `code`; the HTTP adapter maps codes to statuses in exactly one place
 * (ERROR_STATUS below) and `docs/errors.md` describes every code (a test checks both stay in step).
 *
 * Codes are ADT-compatible where ADT has an equivalent (DigitalTwinNotFound, ModelNotFound, ...),
 * so clients written for Azure Digital Twins recognise them.
 */

/** Where a problem is: a JSON pointer into a document, and/or a line and column in a text. */
export interface ProblemLocation {
  /** Which document: a file path, a topic, "request body", a model id ... */
  source?: string;
  /** RFC 6901 JSON pointer into that document ("" is the whole document). */
  pointer?: string;
  /** 1-based line and column in the source text, when there is one. */
  line?: number;
  column?: number;
}

/** One problem found by a validation; validations report every problem at once. */
export interface Problem extends ProblemLocation {
  /** Stable machine-readable code of this problem (e.g. "dtdl.name.invalid", "query.syntax"). */
  code: string;
  message: string;
  severity?: 'error' | 'warning';
}

export const ERROR_STATUS = {
  // generic
  BadRequest: 400,
  /** ADT's code for an invalid argument: an id too long or with control characters, an unsupported api-version. */
  InvalidArgument: 400,
  ValidationFailed: 400,
  PayloadTooLarge: 413,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  /** The request's Content-Type is not one the route takes (JSON; NDJSON where documented). */
  UnsupportedMediaType: 415,
  /** The Host header names no address of this server (DNS rebinding). */
  HostNotAllowed: 421,
  /** A browser's cross-origin write or WebSocket upgrade from an origin that is not configured. */
  OriginNotAllowed: 403,
  Conflict: 409,
  PreconditionFailed: 412,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  // models
  DTDLParserError: 400,
  ModelNotFound: 404,
  ModelAlreadyExists: 409,
  ModelReferencesNotDecommissioned: 409,
  /** ADT's code: a model cannot be deleted while another model extends it or uses it as a component. */
  ModelReferencesNotDeleted: 409,
  ModelDecommissioned: 400,
  // twins and relationships
  DigitalTwinNotFound: 404,
  DigitalTwinAlreadyExists: 412,
  ComponentNotFound: 404,
  RelationshipNotFound: 404,
  /** ADT's code: the `$targetId` of a relationship names no twin. */
  TargetTwinNotFound: 404,
  /** ADT's code: an operation ADT forbids (a relationship from a twin to itself). */
  OperationNotAllowed: 400,
  RelationshipAlreadyExists: 412,
  /** ADT's code: a twin cannot be deleted while relationships (either direction) remain. */
  RelationshipsNotDeleted: 400,
  InvalidTwin: 400,
  InvalidRelationship: 400,
  JsonPatchInvalid: 400,
  InvalidTelemetry: 400,
  // query
  SqlQueryError: 400,
  QueryNotSupported: 400,
  QueryTooLarge: 400,
  InvalidContinuationToken: 400,
  /** The kept cursor of a paged query result expired, was dropped, or its token was already used. */
  ContinuationTokenExpired: 410,
  /** A query passed its work budget (visits, wall time) or the configured hop cap. */
  QueryBudgetExceeded: 422,
  // history
  InvalidHistoryQuery: 400,
  // import and delete jobs
  ImportJobNotFound: 404,
  DeleteJobNotFound: 404,
  /** No history import job with this id (Twinloop's /jobs/history-imports). */
  HistoryImportJobNotFound: 404,
  /** ADT's code: as many jobs of the kind as are kept exist already (jobs.maxJobs). */
  JobLimitReached: 400,
  // event routes (ADT's codes) and endpoints (a Twinloop extension)
  EventRouteNotFound: 404,
  EventRouteIdInvalid: 400,
  EventRouteEndpointInvalid: 400,
  EventRouteFilterInvalid: 400,
  /** ADT's code: a count limit was reached (event routes, endpoints). */
  LimitExceeded: 400,
  EndpointNotFound: 404,
  InvalidEndpoint: 400,
  EndpointInUse: 409,
  // configuration and lifecycle (not HTTP-facing, but catalogued)
  InvalidConfig: 500,
  PortInUse: 500,
  /** Another process holds the data folder's lock (one Twinloop per data folder). */
  DataFolderInUse: 500,
  StorageCorrupt: 500,
  StorageError: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Codes that ADT answers under a broader name: on the wire `x-ms-error-code` and `error.code` carry
 * ADT's code and `error.innererror.code` Twinloop's own (clients written for ADT see what ADT sends).
 */
export const ADT_WIRE_CODE: Partial<Record<ErrorCode, string>> = {
  // The 2023-10-31 spec, Query_QueryTwins: "400 BadRequest - The continuation token is invalid."
  InvalidContinuationToken: 'BadRequest',
};

/** The code a client sees for `code` (ADT's name where ADT uses a broader one). */
export function wireCode(code: ErrorCode): string {
  return ADT_WIRE_CODE[code] ?? code;
}

export interface TwinloopErrorOptions {
  cause?: unknown;
  /** A finer code under `code` (ADT's `innererror.code`), e.g. Twinloop's own where ADT's is generic. */
  innerCode?: string;
  /** Every problem, when the error sums up a validation. */
  problems?: readonly Problem[];
  /** Extra machine-readable details (never secrets). */
  details?: Record<string, unknown>;
}

/** The base error: a literal stable code, a message, and optionally the problems found. */
export class TwinloopError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly Problem[];
  readonly details: Record<string, unknown> | undefined;
  readonly innerCode: string | undefined;

  constructor(code: ErrorCode, message: string, options: TwinloopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TwinloopError';
    this.code = code;
    this.problems = options.problems ?? [];
    this.details = options.details;
    this.innerCode = options.innerCode;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isTwinloopError(e: unknown): e is TwinloopError {
  return e instanceof TwinloopError;
}

/** Formats problems as "source/pointer (line:col): message [code]" lines for logs and the CLI. */
export function formatProblem(p: Problem): string {
  const where: string[] = [];
  if (p.source) where.push(p.source);
  if (p.pointer !== undefined && p.pointer !== '') where.push(`#${p.pointer}`);
  if (p.line !== undefined) where.push(`${p.line}:${p.column ?? 1}`);
  const at = where.length ? `${where.join(' ')}: ` : '';
  return `${at}${p.message} [${p.code}]`;
}

/**
 * An id or other input quoted in a message, cut to a readable length: a message never echoes
 * kilobytes of what the caller sent.
 */
export function quote(s: string, max = 128): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

// ---- constructors for the common cases, so messages stay uniform ----

export const errors = {
  twinNotFound: (id: string) =>
    new TwinloopError('DigitalTwinNotFound', `There is no digital twin with id '${quote(id)}'.`),
  modelNotFound: (id: string) =>
    new TwinloopError('ModelNotFound', `There is no model with id '${quote(id)}'.`),
  relationshipNotFound: (twinId: string, relId: string) =>
    new TwinloopError(
      'RelationshipNotFound',
      `Twin '${quote(twinId)}' has no relationship with id '${quote(relId)}'.`,
    ),
  componentNotFound: (twinId: string, name: string) =>
    new TwinloopError('ComponentNotFound', `Twin '${quote(twinId)}' has no component '${quote(name)}'.`),
  preconditionFailed: (what: string) =>
    new TwinloopError('PreconditionFailed', `${what}: the If-Match etag does not match the current one.`),
  validation: (code: ErrorCode, message: string, problems: readonly Problem[]) =>
    new TwinloopError(
      code,
      problems.length ? `${message}\n${problems.map(formatProblem).join('\n')}` : message,
      {
        problems,
      },
    ),
};
