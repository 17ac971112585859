/**
 * Where a JSON text stops being JSON, found without recursion: JSON.parse says only that the text is
 * not valid, so on failure this scanner walks the text once more with an explicit stack and reports
 * the offset of the first error and what was expected there. It never throws and never overflows the
 * stack, whatever the nesting (a 10,000-deep `[[[[` is just a long stack array).
 */

/** The first syntax error of a text that JSON.parse refused. */
export interface JsonSyntaxError {
  /** 0-based UTF-16 offset into the text. */
  offset: number;
  /** 1-based line and column of `offset`. */
  line: number;
  column: number;
  /** What is wrong there, in words ("a value was expected"). */
  message: string;
}

const OBJECT = 1;
const ARRAY = 2;

type Expect = 'value' | 'valueOrClose' | 'keyOrClose' | 'key' | 'colon' | 'commaOrClose' | 'end';

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Finds the first syntax error of `text`; undefined when the text is valid JSON (one value).
 *
 * @example
 * locateJsonError('{"a": }'); // → { offset: 6, line: 1, column: 7, message: 'a value was expected' }
 */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  const stack: number[] = [];
  let i = 0;
  let expect: Expect = 'value';
  const fail = (offset: number, message: string): JsonSyntaxError => ({
    offset,
    ...lineColumn(text, offset),
    message,
  });
  const after = (): Expect => (stack.length ? 'commaOrClose' : 'end');

  for (;;) {
    while (i < n) {
      const w = text.charCodeAt(i);
      if (w === 0x20 || w === 0x0a || w === 0x0d || w === 0x09) i++;
      else break;
    }
    if (i >= n) {
      if (expect === 'end') return undefined;
      return fail(n, n === 0 ? 'the text is empty' : 'the JSON text ends too early');
    }
    const c = text[i]!;
    switch (expect) {
      case 'end':
        return fail(i, 'unexpected content after the JSON value');
      case 'colon':
        if (c !== ':') return fail(i, "':' was expected");
        i++;
        expect = 'value';
        continue;
      case 'commaOrClose': {
        const top = stack[stack.length - 1];
        if (c === ',') {
          i++;
          expect = top === OBJECT ? 'key' : 'value';
          continue;
        }
        if ((top === OBJECT && c === '}') || (top === ARRAY && c === ']')) {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        return fail(i, top === OBJECT ? "',' or '}' was expected" : "',' or ']' was expected");
      }
      case 'keyOrClose':
      case 'key':
        if (expect === 'keyOrClose' && c === '}') {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c !== '"') return fail(i, 'a property name (a string in double quotes) was expected');
        {
          const end = scanString(text, i);
          if (typeof end !== 'number') return fail(end.offset, end.message);
          i = end;
        }
        expect = 'colon';
        continue;
      case 'value':
      case 'valueOrClose': {
        if (expect === 'valueOrClose' && c === ']') {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c === '{') {
          stack.push(OBJECT);
          i++;
          expect = 'keyOrClose';
          continue;
        }
        if (c === '[') {
          stack.push(ARRAY);
          i++;
          expect = 'valueOrClose';
          continue;
        }
        if (c === '"') {
          const end = scanString(text, i);
          if (typeof end !== 'number') return fail(end.offset, end.message);
          i = end;
        } else if (c === '-' || (c >= '0' && c <= '9')) {
          NUMBER.lastIndex = i;
          const m = NUMBER.exec(text);
          if (!m || m[0] === '-') return fail(i, 'invalid number');
          i += m[0].length;
        } else if (text.startsWith('true', i)) i += 4;
        else if (text.startsWith('false', i)) i += 5;
        else if (text.startsWith('null', i)) i += 4;
        else return fail(i, 'a value was expected');
        expect = after();
        continue;
      }
    }
  }
}

/** Scans a string starting at the quote at `start`; returns the offset after its closing quote. */
function scanString(text: string, start: number): number | { offset: number; message: string } {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const e = text[i + 1];
      if (e === 'u') {
        if (!HEX4.test(text.slice(i + 2, i + 6))) return { offset: i, message: 'invalid unicode escape' };
        i += 6;
        continue;
      }
      if (e === undefined || !ESCAPES.has(e)) return { offset: i, message: 'invalid escape sequence' };
      i += 2;
      continue;
    }
    if (c < 0x20) return { offset: i, message: 'invalid character in a string (escape control characters)' };
    i++;
  }
  return { offset: start, message: 'unterminated string' };
}

/** 1-based line and column of a UTF-16 offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
