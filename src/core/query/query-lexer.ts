/**
 * The query language's lexer: text to tokens, each with its 1-based line and column so that every
 * syntax error can say where it is. Keywords are not distinguished here (they are identifiers
 * compared case-insensitively by the parser), so `select`, `Select` and `SELECT` are one keyword.
 */
import { TwinloopError } from '../errors/errors.js';

export type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'eof';

export interface Pos {
  line: number;
  column: number;
}

export interface Token extends Pos {
  kind: TokenKind;
  /** Identifier name, punctuation, or the decoded string literal. */
  text: string;
  /** For numbers. */
  value?: number;
  /** True for an identifier written `[[like this]]`: never a keyword, whatever it spells. */
  quoted?: boolean;
}

// Longest first, so "->" wins over "-" and "<=" over "<".
const PUNCT = [
  '<>',
  '!=',
  '<=',
  '>=',
  '->',
  '<-',
  '..',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  '*',
  '=',
  '<',
  '>',
  '-',
  ':',
  '|',
];

export function syntaxError(message: string, at: Pos): TwinloopError {
  return new TwinloopError('SqlQueryError', `${message} (line ${at.line}, column ${at.column})`, {
    problems: [{ code: 'query.syntax', message, source: 'query', line: at.line, column: at.column }],
  });
}

/** No twin or relationship can hold a `__proto__` member (the JSON parser refuses it), and as a name it could reach prototypes. */
const protoName = (at: Pos): TwinloopError =>
  syntaxError("'__proto__' cannot be used as a name in a query", at);

const isIdentStart = (c: string): boolean => /[A-Za-z_$]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_$]/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Splits the query text into tokens; throws SqlQueryError at the first character it cannot read. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\u00a0') {
      i++;
      continue;
    }
    const pos = { line, column: i - lineStart + 1 };
    // `--` line comment, as in ADT's documentation samples. ("-" followed by "-" never starts anything else.)
    if (c === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    // `[[name]]`: an identifier that may be a reserved word or start with a digit (ADT's escaping).
    // (`[[[` is a '[' that opens an escaped name: `-[[[Group]]]->` is a relationship condition.)
    if (c === '[' && text[i + 1] === '[' && text[i + 2] !== '[') {
      const end = text.indexOf(']]', i + 2);
      const nl = text.indexOf('\n', i + 2);
      if (end < 0 || (nl >= 0 && nl < end))
        throw syntaxError("Unterminated '[[' (close the name with ']]')", pos);
      const name = text.slice(i + 2, end);
      if (name.trim() === '') throw syntaxError("Empty '[[ ]]': write a name between the brackets", pos);
      if (name === '__proto__') throw protoName(pos);
      tokens.push({ kind: 'ident', text: name, quoted: true, ...pos });
      i = end + 2;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(text[j] as string)) j++;
      const name = text.slice(i, j);
      if (name === '__proto__') throw protoName(pos);
      tokens.push({ kind: 'ident', text: name, ...pos });
      i = j;
      continue;
    }
    if (isDigit(c)) {
      let j = i + 1;
      while (isDigit(text[j])) j++;
      // "1..3" is a range, not the number "1." — take a fraction only when a digit follows the dot.
      if (text[j] === '.' && isDigit(text[j + 1])) {
        j++;
        while (isDigit(text[j])) j++;
      }
      if (
        (text[j] === 'e' || text[j] === 'E') &&
        (isDigit(text[j + 1]) || (/[+-]/.test(text[j + 1] ?? '') && isDigit(text[j + 2])))
      ) {
        j += 2;
        while (isDigit(text[j])) j++;
      }
      const raw = text.slice(i, j);
      if (!Number.isFinite(Number(raw)))
        throw syntaxError(
          `The number ${raw.length > 40 ? `${raw.slice(0, 40)}...` : raw} is out of range`,
          pos,
        );
      tokens.push({ kind: 'number', text: raw, value: Number(raw), ...pos });
      i = j;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let out = '';
      for (;;) {
        if (j >= n) throw syntaxError('Unterminated string literal', pos);
        const d = text[j] as string;
        if (d === '\n') throw syntaxError('Unterminated string literal (strings cannot span lines)', pos);
        if (d === c) {
          j++;
          break;
        }
        if (d === '\\') {
          const e = text[j + 1];
          const escaped: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            "'": "'",
            '"': '"',
            '/': '/',
          };
          if (e !== undefined && escaped[e] !== undefined) {
            out += escaped[e];
            j += 2;
            continue;
          }
          throw syntaxError(`Unknown escape '\\${e ?? ''}' in string literal`, {
            line,
            column: j - lineStart + 1,
          });
        }
        out += d;
        j++;
      }
      tokens.push({ kind: 'string', text: out, ...pos });
      i = j;
      continue;
    }
    const p = PUNCT.find((s) => text.startsWith(s, i));
    if (p === undefined) throw syntaxError(`Unexpected character '${c}'`, pos);
    tokens.push({ kind: 'punct', text: p, ...pos });
    i += p.length;
  }
  tokens.push({ kind: 'eof', text: '', line, column: i - lineStart + 1 });
  return tokens;
}
