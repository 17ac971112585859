/**
 * Delimited text (CSV and its relatives) read row by row from the lines of LineSplitter, so a file
 * of any size is read in bounded memory: one row (at most `maxRowBytes`) is held at a time.
 *
 * - Delimiters `,` `;` tab, or `whitespace` (runs of spaces and tabs; leading and trailing ones
 *   ignored: NASA's C-MAPSS files end every line with two spaces).
 * - RFC 4180 quotes for the character delimiters: `"a,b"`, `"say ""hi"""`, and a quoted field may
 *   span lines (the row is numbered by its first line).
 * - A UTF-8 byte order mark on the first line is dropped; a UTF-16 one is refused (fatal: nothing in
 *   the file can be read). Text that is not UTF-8 is a row error with the field and byte offset of
 *   the first bad byte, unless the mapping declares `encoding: latin1`.
 * - Blank lines and comment lines (`comment`, e.g. "#") are skipped, never errors.
 *
 * Pure and incremental; any byte sequence gives rows and row errors, never a throw.
 */
import { decodeUtf8 } from '../json/untrusted-json.js';
import type { RawLine } from '../jobs/import-format.js';

export type Delimiter = ',' | ';' | '\t' | 'whitespace';
export type TextEncodingName = 'utf-8' | 'latin1';

/** Stable codes of the rows refused by the reader, the mapping or the model (docs/history-import.md). */
export const ROW_ERROR = {
  /** The row's bytes are not text in the file's encoding (UTF-8 unless the mapping says latin1). */
  encoding: 'InvalidEncoding',
  /** The row is longer than the reader keeps (jobs.maxLineKiB). */
  tooLong: 'RowTooLong',
  /** A quote is not closed by the end of the file, or a closing quote is followed by text. */
  quote: 'InvalidQuote',
  /** The row has more or fewer fields than the file's columns. */
  columns: 'WrongColumnCount',
  /** The twin id column is empty, or the twin does not exist (and twins are not created). */
  twin: 'TwinNotFound',
  /** The twin could not be created from the mapping's model. */
  twinCreate: 'TwinNotCreated',
  /** The time column is empty or not a time in the mapping's format. */
  time: 'InvalidTime',
  /** A value is not a number (or not what its telemetry's schema takes). */
  value: 'InvalidValue',
} as const;
export type RowErrorCode = (typeof ROW_ERROR)[keyof typeof ROW_ERROR];

export interface DelimitedOptions {
  delimiter: Delimiter;
  encoding: TextEncodingName;
  /** Lines starting with this are skipped. */
  comment?: string;
  /** Most bytes of one row (a quoted field spanning lines included). */
  maxRowBytes: number;
}

export type TextRow =
  | {
      kind: 'row';
      /** 1-based line where the row starts. */
      line: number;
      fields: string[];
      /** The row's bytes as read (to write a bad row aside exactly). */
      raw: Uint8Array[];
    }
  | {
      kind: 'error';
      line: number;
      /** 1-based field number where the problem is, when known. */
      column?: number;
      /** 0-based byte offset in the row, for encoding errors. */
      byteOffset?: number;
      code: RowErrorCode;
      message: string;
      raw: Uint8Array[];
      /** True when nothing after it can be read either (a UTF-16 file). */
      fatal?: boolean;
    };

const latin1 = new TextDecoder('latin1');

/**
 * @example
 * const reader = new DelimitedReader({ delimiter: 'whitespace', encoding: 'utf-8', maxRowBytes: 1 << 20 });
 * for (const line of splitter.push(chunk)) for (const row of reader.push(line)) handle(row);
 * for (const line of splitter.end()) for (const row of reader.push(line)) handle(row);
 * for (const row of reader.end()) handle(row);
 */
export class DelimitedReader {
  private first = true;
  /** A row whose quoted field is still open: its text so far, start line and bytes. */
  private open: { text: string; line: number; raw: Uint8Array[]; bytes: number } | undefined;

  constructor(private readonly o: DelimitedOptions) {}

  /** The rows completed by this line (none while a quoted field is open, or for a blank line). */
  push(line: RawLine): TextRow[] {
    if (line.bytes === undefined) {
      const start = this.open?.line ?? line.lineNumber;
      const raw = this.open?.raw ?? [];
      this.open = undefined;
      this.first = false;
      return [
        {
          kind: 'error',
          line: start,
          code: ROW_ERROR.tooLong,
          message: `the row is ${line.tooLongBytes ?? 0} bytes long, more than the ${this.o.maxRowBytes} kept (jobs.maxLineKiB); it is not read`,
          raw,
        },
      ];
    }
    let bytes = line.bytes;
    if (this.first) {
      this.first = false;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      else if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
        return [
          {
            kind: 'error',
            line: line.lineNumber,
            column: 1,
            byteOffset: 0,
            code: ROW_ERROR.encoding,
            message: 'the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8',
            raw: [line.bytes],
            fatal: true,
          },
        ];
      }
    }
    const nul = bytes.indexOf(0);
    if (nul !== -1) {
      // Valid UTF-8, but no text file holds NUL: most likely UTF-16 without a byte order mark.
      const raw = [...(this.open?.raw ?? []), line.bytes];
      const start = this.open?.line ?? line.lineNumber;
      this.open = undefined;
      return [
        {
          kind: 'error',
          line: start,
          column: this.fieldAtByte(bytes, nul),
          byteOffset: nul,
          code: ROW_ERROR.encoding,
          message: `byte ${nul} of line ${line.lineNumber} is NUL: this is not text (a UTF-16 file? save it as UTF-8)`,
          raw,
        },
      ];
    }
    let text: string;
    if (this.o.encoding === 'latin1') text = latin1.decode(bytes);
    else {
      const decoded = decodeUtf8(bytes);
      if (typeof decoded !== 'string') {
        const raw = [...(this.open?.raw ?? []), line.bytes];
        const start = this.open?.line ?? line.lineNumber;
        this.open = undefined;
        const column = this.fieldAtByte(bytes, decoded.badByteOffset);
        return [
          {
            kind: 'error',
            line: start,
            column,
            byteOffset: decoded.badByteOffset,
            code: ROW_ERROR.encoding,
            message: `byte ${decoded.badByteOffset} of line ${line.lineNumber} (0x${(bytes[decoded.badByteOffset] ?? 0).toString(16).padStart(2, '0')}) is not UTF-8 text; if the file is Latin-1, say "encoding: latin1" in the mapping`,
            raw,
          },
        ];
      }
      text = decoded;
    }
    if (this.open) {
      const o = this.open;
      o.text += `\n${text}`;
      o.raw.push(line.bytes);
      o.bytes += line.bytes.length + 1;
      if (o.bytes > this.o.maxRowBytes) {
        this.open = undefined;
        return [
          {
            kind: 'error',
            line: o.line,
            code: ROW_ERROR.tooLong,
            message: `a quoted field opened on line ${o.line} runs past ${this.o.maxRowBytes} bytes (jobs.maxLineKiB); an unclosed quote?`,
            raw: o.raw,
          },
        ];
      }
      return this.parse(o.text, o.line, o.raw, o.bytes);
    }
    if (isBlank(text)) return [];
    if (this.o.comment !== undefined && text.startsWith(this.o.comment)) return [];
    return this.parse(text, line.lineNumber, [bytes], bytes.length);
  }

  /** At the end of the input: an open quoted field is an error (a truncated file). */
  end(): TextRow[] {
    const o = this.open;
    if (!o) return [];
    this.open = undefined;
    return [
      {
        kind: 'error',
        line: o.line,
        code: ROW_ERROR.quote,
        message: `the quoted field opened on line ${o.line} is not closed before the end of the file (a truncated file?)`,
        raw: o.raw,
      },
    ];
  }

  private parse(text: string, line: number, raw: Uint8Array[], bytes: number): TextRow[] {
    const d = this.o.delimiter;
    if (d === 'whitespace') {
      return [{ kind: 'row', line, fields: text.trim().split(/[ \t]+/), raw }];
    }
    if (!text.includes('"')) return [{ kind: 'row', line, fields: text.split(d), raw }];
    const r = splitQuoted(text, d);
    if (r.kind === 'open') {
      this.open = { text, line, raw, bytes };
      return [];
    }
    this.open = undefined;
    if (r.kind === 'bad') {
      return [
        {
          kind: 'error',
          line,
          column: r.field,
          code: ROW_ERROR.quote,
          message: `field ${r.field}: text after the closing quote (a quote inside a quoted field is written "")`,
          raw,
        },
      ];
    }
    return [{ kind: 'row', line, fields: r.fields, raw }];
  }

  /** The 1-based field holding byte `offset` (delimiters counted before it; quotes ignored). */
  private fieldAtByte(bytes: Uint8Array, offset: number): number {
    let field = 1;
    if (this.o.delimiter === 'whitespace') {
      let inGap = true;
      field = 0;
      for (let i = 0; i <= offset && i < bytes.length; i++) {
        const gap = bytes[i] === 0x20 || bytes[i] === 0x09;
        if (!gap && inGap) field++;
        inGap = gap;
      }
      return Math.max(field, 1);
    }
    const code = this.o.delimiter.charCodeAt(0);
    for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === code) field++;
    return field;
  }
}

type Split = { kind: 'ok'; fields: string[] } | { kind: 'open' } | { kind: 'bad'; field: number };

/** RFC 4180 fields of one row's text (which may hold newlines inside quotes). */
function splitQuoted(text: string, d: string): Split {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return { kind: 'open' };
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return { kind: 'ok', fields };
      if (text[i] !== d) return { kind: 'bad', field: fields.length };
      i++;
      if (i === n) {
        fields.push('');
        return { kind: 'ok', fields };
      }
      continue;
    }
    // An unquoted field runs to the next delimiter (a stray quote inside it is kept as text).
    const next = text.indexOf(d, i);
    if (next === -1) {
      fields.push(text.slice(i));
      return { kind: 'ok', fields };
    }
    fields.push(text.slice(i, next));
    i = next + 1;
    if (i === n) {
      fields.push('');
      return { kind: 'ok', fields };
    }
  }
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
