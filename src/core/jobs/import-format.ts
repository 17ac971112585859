/**
 * ADT's import file, read line by line: NDJSON in sections. The first line is `{"Section": "Header"}`
 * followed by one header object (fileVersion, author, organization); then, each optional and in this
 * order, `{"Section": "Models"}` (one DTDL interface per line), `{"Section": "Twins"}` (one twin
 * per line, ADT's body with `$dtId`) and `{"Section": "Relationships"}` (one relationship per line
 * with `$dtId` as its source, `$relationshipId`, `$targetId`, `$relationshipName`).
 *
 * Two pieces, both pure and incremental, so a multi-GB file is read in bounded memory:
 * - LineSplitter cuts bytes into lines, numbering them, and never holds more than `maxLineBytes`
 *   of one line: a longer line is reported (with its length) and skipped up to its newline.
 * - ImportFileReader classifies each line: a section change, the header, an item of the current
 *   section, or a LineError with the line number, a stable code and a reason. It never throws on
 *   input: any byte sequence, in any order, gives items and errors, never a crash.
 */
import type { Problem } from '../errors/errors.js';
import { parseUntrustedJson } from '../json/untrusted-json.js';

/** The sections, in the order the file must give them. */
export const IMPORT_SECTIONS = ['Header', 'Models', 'Twins', 'Relationships'] as const;
export type ImportSection = (typeof IMPORT_SECTIONS)[number];
/** The header's fileVersion values this reader understands. */
export const SUPPORTED_FILE_VERSIONS = ['1.0.0'] as const;

/** Stable codes of line errors (documented in docs/import-jobs.md). */
export const LINE_ERROR = {
  /** The line is not valid JSON (syntax, UTF-8, nesting, forbidden keys, number range). */
  json: 'InvalidJson',
  /** The line is longer than the reader keeps. */
  tooLong: 'LineTooLong',
  /** The line is not an object, or misses what its section needs. */
  item: 'InvalidItem',
  /** A section line names no section, repeats one or comes after a later one. */
  section: 'InvalidSection',
  /** An item line before any section, or in a section that was refused. */
  outside: 'ItemOutsideSection',
  /** The file does not start with the Header section, or its header object is not valid. */
  header: 'InvalidHeader',
} as const;
export type LineErrorCode = (typeof LINE_ERROR)[keyof typeof LINE_ERROR];

export interface RawLine {
  /** 1-based line number in the file. */
  lineNumber: number;
  /** The line's bytes without the newline (and without a trailing CR); undefined when too long. */
  bytes?: Uint8Array;
  /** Set when the line was longer than maxLineBytes: its full length in bytes. */
  tooLongBytes?: number;
}

/**
 * Cuts a byte stream into numbered lines, holding at most `maxLineBytes` of one line.
 *
 * @example
 * const s = new LineSplitter(1 << 20);
 * for (const chunk of chunks) for (const line of s.push(chunk)) handle(line);
 * for (const line of s.end()) handle(line);
 */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private held = 0;
  /** Bytes of the current line seen (also when no longer held). */
  private length = 0;
  private overflow = false;
  private line = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines completed by this chunk. */
  push(chunk: Uint8Array): RawLine[] {
    const out: RawLine[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk.subarray(start, end));
      if (nl === -1) break;
      out.push(this.finish());
      start = nl + 1;
    }
    return out;
  }

  /** The last line, when the input did not end with a newline. */
  end(): RawLine[] {
    return this.length > 0 ? [this.finish()] : [];
  }

  /** Lines completed so far. */
  get lines(): number {
    return this.line;
  }

  private take(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.length += piece.length;
    if (this.overflow) return;
    if (this.held + piece.length > this.maxLineBytes) {
      this.overflow = true;
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(piece.slice()); // a copy: the caller may reuse its buffer
    this.held += piece.length;
  }

  private finish(): RawLine {
    this.line++;
    let r: RawLine;
    if (this.overflow) r = { lineNumber: this.line, tooLongBytes: this.length };
    else {
      let bytes = this.parts.length === 1 ? this.parts[0]! : concat(this.parts, this.held);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
      r = { lineNumber: this.line, bytes };
    }
    this.parts = [];
    this.held = 0;
    this.length = 0;
    this.overflow = false;
    return r;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface ImportHeader {
  fileVersion: string;
  author?: string;
  organization?: string;
}

export interface LineError {
  kind: 'error';
  lineNumber: number;
  /** The section the line was read in (undefined before the first section). */
  section: ImportSection | undefined;
  code: LineErrorCode;
  message: string;
  /** The JSON problem, when the line is not valid JSON (pointer, line/column inside the line). */
  problem?: Problem;
  /** True when the whole file cannot be read past this line (a missing or bad header). */
  fatal?: boolean;
}

export type ImportLine =
  | { kind: 'blank'; lineNumber: number }
  | { kind: 'section'; lineNumber: number; section: ImportSection }
  | { kind: 'header'; lineNumber: number; header: ImportHeader }
  | { kind: 'model'; lineNumber: number; model: Record<string, unknown>; id: string }
  | { kind: 'twin'; lineNumber: number; id: string; body: Record<string, unknown> }
  | {
      kind: 'relationship';
      lineNumber: number;
      sourceId: string;
      relationshipId: string;
      body: Record<string, unknown>;
    }
  | LineError;

export interface ImportFileReaderOptions {
  /** Deepest JSON nesting of a line (default 128, as the HTTP API). */
  maxDepth?: number;
}

/**
 * Reads the lines of one import file in order; keeps only the current section.
 *
 * @example
 * const reader = new ImportFileReader();
 * const item = reader.read(rawLine); // { kind: 'twin', id, body, lineNumber } or { kind: 'error', … }
 */
export class ImportFileReader {
  private section: ImportSection | undefined;
  /** The section line that was refused: its items are reported, not read. */
  private refused = false;
  private expectHeaderObject = false;
  private headerSeen = false;
  private readonly seen = new Set<ImportSection>();

  constructor(private readonly options: ImportFileReaderOptions = {}) {}

  /** The section the reader is in. */
  get current(): ImportSection | undefined {
    return this.section;
  }

  /** The header was read (a file without one fails). */
  get hasHeader(): boolean {
    return this.headerSeen;
  }

  read(line: RawLine): ImportLine {
    const n = line.lineNumber;
    if (line.bytes === undefined) {
      return this.error(
        n,
        LINE_ERROR.tooLong,
        `Line ${n} is ${line.tooLongBytes ?? '?'} bytes long, more than this server reads in one line.`,
      );
    }
    if (isBlank(line.bytes)) return { kind: 'blank', lineNumber: n };
    const parsed = parseUntrustedJson(line.bytes, {
      what: `Line ${n}`,
      source: `line ${n}`,
      ...(this.options.maxDepth !== undefined ? { maxDepth: this.options.maxDepth } : {}),
    });
    if (!parsed.ok) {
      const m = parsed.problem.message;
      const e = this.error(n, LINE_ERROR.json, m.startsWith(`Line ${n}`) ? m : `Line ${n}: ${m}`);
      e.problem = parsed.problem;
      if (!this.headerSeen) e.fatal = true;
      return e;
    }
    const v = parsed.value;
    const obj = isObject(v) ? v : undefined;
    const sectionName = obj && Object.keys(obj).length === 1 ? obj.Section : undefined;
    if (sectionName !== undefined) return this.enterSection(n, sectionName);
    if (!this.headerSeen) {
      if (this.section === 'Header' && this.expectHeaderObject) return this.readHeader(n, obj);
      return this.fatal(n, 'The file must start with {"Section": "Header"} and a header object.');
    }
    if (this.section === 'Header') {
      return this.error(n, LINE_ERROR.outside, `Line ${n}: the Header section holds one object only.`);
    }
    if (this.refused || this.section === undefined) {
      return this.error(
        n,
        LINE_ERROR.outside,
        `Line ${n} is in a section that was refused (see the section line above); it is not read.`,
      );
    }
    if (!obj) return this.error(n, LINE_ERROR.item, `Line ${n} must be a JSON object.`);
    switch (this.section) {
      case 'Models':
        return this.readModel(n, obj);
      case 'Twins':
        return this.readTwin(n, obj);
      case 'Relationships':
        return this.readRelationship(n, obj);
    }
  }

  private enterSection(n: number, name: unknown): ImportLine {
    const section = IMPORT_SECTIONS.find((s) => s === name);
    if (!section) {
      this.refused = true;
      const e = this.error(
        n,
        LINE_ERROR.section,
        `Line ${n}: '${String(name)}' is not a section (Header, Models, Twins, Relationships).`,
      );
      if (!this.headerSeen) e.fatal = true;
      return e;
    }
    if (!this.headerSeen && section !== 'Header') {
      return this.fatal(n, `The file must start with the Header section, not ${section}.`);
    }
    const order = IMPORT_SECTIONS.indexOf(section);
    const currentOrder = this.section ? IMPORT_SECTIONS.indexOf(this.section) : -1;
    if (this.seen.has(section) || order < currentOrder) {
      this.refused = true;
      return this.error(
        n,
        LINE_ERROR.section,
        this.seen.has(section)
          ? `Line ${n}: the ${section} section appears twice; this one is not read.`
          : `Line ${n}: the ${section} section comes after ${this.section}; sections go Header, Models, Twins, Relationships. This one is not read.`,
      );
    }
    this.seen.add(section);
    this.section = section;
    this.refused = false;
    this.expectHeaderObject = section === 'Header';
    return { kind: 'section', lineNumber: n, section };
  }

  private readHeader(n: number, obj: Record<string, unknown> | undefined): ImportLine {
    this.expectHeaderObject = false;
    if (!obj) return this.fatal(n, `Line ${n}: the header must be a JSON object.`);
    const fileVersion = obj.fileVersion;
    if (
      typeof fileVersion !== 'string' ||
      !(SUPPORTED_FILE_VERSIONS as readonly string[]).includes(fileVersion)
    ) {
      return this.fatal(
        n,
        `Line ${n}: the header's fileVersion must be one of ${SUPPORTED_FILE_VERSIONS.join(', ')} (found ${JSON.stringify(fileVersion) ?? 'nothing'}).`,
      );
    }
    for (const k of ['author', 'organization'] as const) {
      if (obj[k] !== undefined && typeof obj[k] !== 'string') {
        return this.fatal(n, `Line ${n}: the header's ${k} must be a string.`);
      }
    }
    this.headerSeen = true;
    const header: ImportHeader = { fileVersion };
    if (typeof obj.author === 'string') header.author = obj.author;
    if (typeof obj.organization === 'string') header.organization = obj.organization;
    return { kind: 'header', lineNumber: n, header };
  }

  private readModel(n: number, obj: Record<string, unknown>): ImportLine {
    const id = obj['@id'];
    if (typeof id !== 'string' || id === '') {
      return this.error(n, LINE_ERROR.item, `Line ${n}: a model needs an "@id" (its DTMI).`);
    }
    return { kind: 'model', lineNumber: n, model: obj, id };
  }

  private readTwin(n: number, obj: Record<string, unknown>): ImportLine {
    const id = obj.$dtId;
    if (typeof id !== 'string' || id === '') {
      return this.error(n, LINE_ERROR.item, `Line ${n}: a twin needs "$dtId" (its id).`);
    }
    return { kind: 'twin', lineNumber: n, id, body: obj };
  }

  private readRelationship(n: number, obj: Record<string, unknown>): ImportLine {
    const sourceId = obj.$dtId ?? obj.$sourceId;
    const relationshipId = obj.$relationshipId;
    const missing: string[] = [];
    if (typeof sourceId !== 'string' || sourceId === '') missing.push('"$dtId" (the source twin)');
    if (typeof relationshipId !== 'string' || relationshipId === '') missing.push('"$relationshipId"');
    if (missing.length) {
      return this.error(n, LINE_ERROR.item, `Line ${n}: a relationship needs ${missing.join(' and ')}.`);
    }
    const { $dtId: _source, ...body } = obj;
    return {
      kind: 'relationship',
      lineNumber: n,
      sourceId: sourceId as string,
      relationshipId: relationshipId as string,
      body,
    };
  }

  private fatal(n: number, message: string): LineError {
    const e = this.error(
      n,
      LINE_ERROR.header,
      message.startsWith('Line ') ? message : `Line ${n}: ${message}`,
    );
    e.fatal = true;
    return e;
  }

  private error(n: number, code: LineErrorCode, message: string): LineError {
    return { kind: 'error', lineNumber: n, section: this.section, code, message };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}
