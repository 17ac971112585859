/**
 * ADT's event-route filter language: a parser with budgets (length, nesting depth, path length) and
 * clear errors with line and column, and a three-valued evaluator over a CloudEvent's attributes and
 * body (`$body.<path>`).
 *
 * Grammar (keywords case-insensitive):
 *   filter  := or
 *   or      := and ('OR' and)*
 *   and     := unary ('AND' unary)*
 *   unary   := 'NOT' unary | '(' or ')' | fn | cmp | 'true' | 'false'
 *   fn      := ('STARTS_WITH' | 'ENDS_WITH' | 'CONTAINS') '(' operand ',' operand ')'
 *   cmp     := operand ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') operand
 *   operand := attribute | '$body' ('.' name | '[' string | integer ']')* | string | number | true | false | null
 * Attributes are CloudEvent attribute names (`type`, `source`, `subject`, `id`, `dataschema`,
 * `specversion`, `time`, `datacontenttype`, extension attributes); a missing one is unknown.
 *
 * Evaluation is in route-filter-eval.ts.
 */
import { TwinloopError, type Problem } from '../errors/errors.js';

export interface FilterBudget {
  /** Longest filter text, characters. */
  maxLength: number;
  /** Deepest nesting of parentheses and NOT. */
  maxDepth: number;
  /** Most segments in one `$body` path. */
  maxPathSegments: number;
}

export const DEFAULT_FILTER_BUDGET: FilterBudget = { maxLength: 4096, maxDepth: 32, maxPathSegments: 32 };

export type Literal = string | number | boolean | null;

export type Operand =
  | { kind: 'attr'; name: string }
  | { kind: 'body'; path: readonly (string | number)[] }
  | { kind: 'lit'; value: Literal };

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type StringFn = 'STARTS_WITH' | 'ENDS_WITH' | 'CONTAINS';

export type FilterNode =
  | { kind: 'const'; value: boolean }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; expr: FilterNode }
  | { kind: 'cmp'; op: CompareOp; left: Operand; right: Operand }
  | { kind: 'fn'; fn: StringFn; args: [Operand, Operand] };

/** What a filter is evaluated against: CloudEvent attributes (strings) and the event's data. */
export interface FilterInput {
  attributes: Readonly<Record<string, string | undefined>>;
  /** The event's data; `undefined` when unknown (analysis). */
  body?: unknown;
}

// ---------------------------------------------------------------- lexer

type TokKind = 'word' | 'dollar' | 'string' | 'number' | 'op' | 'punct' | 'body' | 'eof';
interface Tok {
  kind: TokKind;
  text: string;
  value?: string | number;
  pos: number;
}

function lineCol(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return { line, column: pos - last };
}

function fail(text: string, pos: number, code: string, message: string): never {
  const { line, column } = lineCol(text, pos);
  const problem: Problem = { code, message, line, column, source: 'filter' };
  throw new TwinloopError(
    'EventRouteFilterInvalid',
    `The event route filter is invalid at ${line}:${column}: ${message}`,
    { problems: [problem] },
  );
}

const isWordStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isWord = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

function lex(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) fail(text, start, 'filter.string', 'A string is not closed.');
        const d = text[i]!;
        if (d === '\\' && i + 1 < text.length) {
          s += text[i + 1];
          i += 2;
        } else if (d === c) {
          if (text[i + 1] === c) {
            s += c; // a doubled quote stands for itself
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          s += d;
          i++;
        }
      }
      toks.push({ kind: 'string', text: text.slice(start, i), value: s, pos: start });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      i++;
      while (i < text.length && /[0-9.eE+-]/.test(text[i]!)) {
        if ((text[i] === '+' || text[i] === '-') && !/[eE]/.test(text[i - 1]!)) break;
        i++;
      }
      const raw = text.slice(start, i);
      const n = Number(raw);
      if (!Number.isFinite(n)) fail(text, start, 'filter.number', `'${raw}' is not a number.`);
      toks.push({ kind: 'number', text: raw, value: n, pos: start });
      continue;
    }
    if (c === '$') {
      i++;
      while (i < text.length && isWord(text[i]!)) i++;
      const w = text.slice(start, i);
      // `$body` starts a path; other `$names` ($metadata, $model) are property names inside one.
      toks.push({ kind: w.toLowerCase() === '$body' ? 'body' : 'dollar', text: w, pos: start });
      continue;
    }
    if (isWordStart(c)) {
      i++;
      while (i < text.length && isWord(text[i]!)) i++;
      toks.push({ kind: 'word', text: text.slice(start, i), pos: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      toks.push({ kind: 'op', text: two === '<>' ? '!=' : two, pos: start });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      toks.push({ kind: 'op', text: c, pos: start });
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '.' || c === '[' || c === ']') {
      toks.push({ kind: 'punct', text: c, pos: start });
      i++;
      continue;
    }
    fail(text, start, 'filter.token', `Unexpected character '${c}'.`);
  }
  toks.push({ kind: 'eof', text: '', pos: text.length });
  return toks;
}

// ---------------------------------------------------------------- parser

const FUNCTIONS = new Set<string>(['STARTS_WITH', 'ENDS_WITH', 'CONTAINS']);
const KEYWORDS = new Set<string>(['AND', 'OR', 'NOT', 'TRUE', 'FALSE', 'NULL', ...FUNCTIONS]);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly text: string,
    private readonly toks: Tok[],
    private readonly budget: FilterBudget,
  ) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isWord(t: Tok, w: string): boolean {
    return t.kind === 'word' && t.text.toUpperCase() === w;
  }
  private expect(kind: TokKind, text: string, what: string): Tok {
    const t = this.next();
    if (t.kind !== kind || t.text !== text) this.err(t, `${what} was expected, not ${describe(t)}.`);
    return t;
  }
  private err(t: Tok, message: string): never {
    fail(this.text, t.pos, 'filter.syntax', message);
  }
  private enter(t: Tok): void {
    if (++this.depth > this.budget.maxDepth)
      fail(
        this.text,
        t.pos,
        'filter.depth',
        `The filter nests deeper than ${this.budget.maxDepth} levels (parentheses and NOT).`,
      );
  }

  parse(): FilterNode {
    const node = this.or();
    const t = this.peek();
    if (t.kind !== 'eof') this.err(t, `AND, OR or the end of the filter was expected, not ${describe(t)}.`);
    return node;
  }

  private or(): FilterNode {
    let left = this.and();
    while (this.isWord(this.peek(), 'OR')) {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterNode {
    let left = this.unary();
    while (this.isWord(this.peek(), 'AND')) {
      this.next();
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterNode {
    const t = this.peek();
    if (this.isWord(t, 'NOT')) {
      this.next();
      this.enter(t);
      const expr = this.unary();
      this.depth--;
      return { kind: 'not', expr };
    }
    if (t.kind === 'punct' && t.text === '(') {
      this.next();
      this.enter(t);
      const e = this.or();
      this.expect('punct', ')', "')'");
      this.depth--;
      return e;
    }
    if (t.kind === 'word' && FUNCTIONS.has(t.text.toUpperCase())) {
      this.next();
      this.expect('punct', '(', `'(' after ${t.text.toUpperCase()}`);
      const a = this.operand();
      this.expect('punct', ',', "','");
      const b = this.operand();
      this.expect('punct', ')', "')'");
      return { kind: 'fn', fn: t.text.toUpperCase() as StringFn, args: [a, b] };
    }
    const left = this.operand();
    const op = this.peek();
    if (op.kind !== 'op') {
      if (left.kind === 'lit' && typeof left.value === 'boolean') return { kind: 'const', value: left.value };
      this.err(op, `A comparison (=, !=, <, <=, >, >=) was expected after ${describeOperand(left)}.`);
    }
    this.next();
    const right = this.operand();
    return { kind: 'cmp', op: op.text as CompareOp, left, right };
  }

  private operand(): Operand {
    const t = this.next();
    if (t.kind === 'string') return { kind: 'lit', value: t.value as string };
    if (t.kind === 'number') return { kind: 'lit', value: t.value as number };
    if (t.kind === 'body') return { kind: 'body', path: this.path(t) };
    if (t.kind === 'dollar') this.err(t, `'${t.text}' is not known here: only $body may start a path.`);
    if (t.kind === 'word') {
      const up = t.text.toUpperCase();
      if (up === 'TRUE') return { kind: 'lit', value: true };
      if (up === 'FALSE') return { kind: 'lit', value: false };
      if (up === 'NULL') return { kind: 'lit', value: null };
      if (KEYWORDS.has(up))
        this.err(t, `${up} cannot stand here: an attribute, $body path or value was expected.`);
      return { kind: 'attr', name: t.text.toLowerCase() };
    }
    this.err(t, `An attribute, $body path or value was expected, not ${describe(t)}.`);
  }

  private path(start: Tok): (string | number)[] {
    const segs: (string | number)[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && t.text === '.') {
        this.next();
        const name = this.next();
        // Names may start with $ ($metadata, $model).
        if (name.kind === 'word' || name.kind === 'dollar' || name.kind === 'body') segs.push(name.text);
        else this.err(name, `A property name was expected after '.', not ${describe(name)}.`);
      } else if (t.kind === 'punct' && t.text === '[') {
        this.next();
        const k = this.next();
        if (k.kind === 'string') segs.push(k.value as string);
        else if (k.kind === 'number' && Number.isInteger(k.value) && (k.value as number) >= 0)
          segs.push(k.value as number);
        else this.err(k, `A quoted name or an index was expected in '[ ]', not ${describe(k)}.`);
        this.expect('punct', ']', "']'");
      } else break;
      if (segs.length > this.budget.maxPathSegments)
        fail(
          this.text,
          start.pos,
          'filter.path',
          `A $body path has more than ${this.budget.maxPathSegments} segments.`,
        );
    }
    return segs;
  }
}

function describe(t: Tok): string {
  return t.kind === 'eof' ? 'the end of the filter' : `'${t.text}'`;
}

function describeOperand(o: Operand): string {
  if (o.kind === 'attr') return `'${o.name}'`;
  if (o.kind === 'body') return '$body';
  return JSON.stringify(o.value);
}

/**
 * Parses a filter.
 * @example parseFilter("type = 'Microsoft.DigitalTwins.Twin.Create' AND STARTS_WITH(subject, 'pump')")
 * @throws EventRouteFilterInvalid with the line and column of the first problem
 */
export function parseFilter(text: unknown, budget: FilterBudget = DEFAULT_FILTER_BUDGET): FilterNode {
  if (typeof text !== 'string')
    throw new TwinloopError('EventRouteFilterInvalid', 'The event route filter must be a string.', {
      problems: [{ code: 'filter.type', message: 'The filter must be a string.', pointer: '/filter' }],
    });
  if (text.length > budget.maxLength)
    fail(
      text,
      budget.maxLength,
      'filter.length',
      `The filter is longer than ${budget.maxLength} characters.`,
    );
  if (text.trim() === '')
    fail(text, 0, 'filter.empty', "The filter is empty: use 'true' to route every event.");
  return new Parser(text, lex(text), budget).parse();
}

// ---------------------------------------------------------------- printing (for tests and docs)

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function printOperand(o: Operand): string {
  if (o.kind === 'attr') return o.name;
  if (o.kind === 'body')
    return '$body' + o.path.map((s) => (typeof s === 'number' ? `[${s}]` : `[${quote(s)}]`)).join('');
  if (typeof o.value === 'string') return quote(o.value);
  return String(o.value);
}

/** The filter as text that parses back to the same tree. */
export function printFilter(n: FilterNode): string {
  switch (n.kind) {
    case 'const':
      return String(n.value);
    case 'and':
    case 'or':
      return `(${printFilter(n.left)} ${n.kind.toUpperCase()} ${printFilter(n.right)})`;
    case 'not':
      return `NOT ${printFilter(n.expr)}`;
    case 'cmp':
      return `${printOperand(n.left)} ${n.op} ${printOperand(n.right)}`;
    case 'fn':
      return `${n.fn}(${printOperand(n.args[0])}, ${printOperand(n.args[1])})`;
  }
}
