/**
 * Recursive-descent parser of the ADT query language (plus its extensions: any number of JOINs,
 * MATCH without the five-hop and one-anchor limits). Text in, QueryAst out; every error is a
 * SqlQueryError whose Problem carries the line and column of the offending token.
 *
 *   query   := SELECT [TOP '(' n ')'] [* | COUNT '(' ')' | item {, item}] FROM (DIGITALTWINS|RELATIONSHIPS) [[AS] alias]
 *              [MATCH pattern] {JOIN alias RELATED alias.rel [alias]} [WHERE expr]
 *              (the select list may be left out only after TOP: `SELECT TOP(5) FROM DIGITALTWINS`)
 *   pattern := '(' [name] ')' { edge '(' [name] ')' }
 *   edge    := '-[' spec ']->' | '<-[' spec ']-' | '-[' spec ']-'      spec := [r] [[':'] a {'|' b}] ['*' [n] ['..' [m]]]
 *   hops    := '*n' exactly n; '*n..m' more than n and at most m (ADT: the start is excluded, the end
 *              included); '*..m' 1 to m; none: one hop. Extensions: '*' any number >= 1, '*n..' more than n.
 *   name    := identifier that is not a reserved word, or any text in '[[' ']]'
 *   expr    := or;  or := and {OR and};  and := not {AND not};  not := NOT not | cmp
 *   cmp     := primary [(= | != | <> | < | <= | > | >=) primary | [NOT] IN list | NIN list]
 */
import type {
  Expr,
  JoinClause,
  Literal,
  MatchEdge,
  MatchNode,
  MatchPattern,
  QueryAst,
  SelectClause,
  SelectItem,
} from './query-ast.js';
import { syntaxError, tokenize, type Pos, type Token } from './query-lexer.js';
import { FUNCTIONS, FUNCTION_ALIASES, RESERVED_WORDS as RESERVED } from './query-vocabulary.js';

/** Deepest nesting of parentheses / NOT accepted, so hostile input cannot overflow the stack. */
const MAX_DEPTH = 200;

/**
 * @example parseQuery("SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")
 * @throws TwinloopError 'SqlQueryError' with problems[0].line / .column
 */
export function parseQuery(text: string): QueryAst {
  return new Parser(tokenize(text)).query();
}

class Parser {
  private i = 0;
  private depth = 0;
  private anon = 0;

  constructor(private readonly tokens: Token[]) {}

  query(): QueryAst {
    this.keyword('SELECT');
    let top: number | undefined;
    if (this.isKeyword('TOP')) {
      this.next();
      this.punct('(');
      top = this.integer('TOP count');
      this.punct(')');
    }
    // `SELECT TOP(5) FROM DIGITALTWINS`: TOP without a select list returns the items, as `*` does.
    const select: SelectClause =
      top !== undefined && this.isKeyword('FROM')
        ? { kind: 'star', pos: at(this.peek()) }
        : this.selectClause();
    this.keyword('FROM');
    const fromTok = this.peek();
    let kind: 'twins' | 'relationships';
    if (this.isKeyword('DIGITALTWINS')) kind = 'twins';
    else if (this.isKeyword('RELATIONSHIPS')) kind = 'relationships';
    else throw this.expected('DIGITALTWINS or RELATIONSHIPS');
    this.next();
    if (this.isKeyword('AS')) {
      this.next();
      if (!this.isAliasNext()) throw this.expected('a collection name after AS');
    }
    const alias = this.isAliasNext() ? this.next().text : undefined;
    const ast: QueryAst = {
      select,
      from: { kind, pos: at(fromTok), ...(alias !== undefined && { alias }) },
      joins: [],
    };
    if (top !== undefined) ast.top = top;
    if (this.isKeyword('MATCH')) ast.match = this.matchPattern();
    while (this.isKeyword('JOIN')) ast.joins.push(this.join());
    if (this.isKeyword('WHERE')) {
      this.next();
      ast.where = this.expr();
    }
    if (this.peek().kind !== 'eof')
      throw this.expected(
        ast.where ? 'AND, OR or the end of the query' : 'JOIN, WHERE or the end of the query',
      );
    return ast;
  }

  private selectClause(): SelectClause {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '*') {
      this.next();
      return { kind: 'star', pos: at(t) };
    }
    if (this.isKeyword('COUNT')) {
      this.next();
      this.punct('(');
      this.punct(')');
      return { kind: 'count', pos: at(t) };
    }
    const items: SelectItem[] = [this.selectItem()];
    while (this.isPunct(',')) {
      this.next();
      items.push(this.selectItem());
    }
    return { kind: 'items', items, pos: at(t) };
  }

  private selectItem(): SelectItem {
    const t = this.peek();
    if (!this.isAliasNext()) throw this.expected('a collection or property to select');
    const expr = this.path();
    let key = expr.segments[expr.segments.length - 1] as string;
    if (this.isKeyword('AS')) {
      this.next();
      key = this.aliasName('a name after AS');
    }
    return { expr, key, pos: at(t) };
  }

  private join(): JoinClause {
    const pos = at(this.next());
    if (!this.isAliasNext()) throw this.expected('the name of the joined collection');
    const alias = this.next().text;
    this.keyword('RELATED');
    const from = this.aliasName('a collection name before the relationship name');
    this.punct('.');
    const j: JoinClause = { alias, from, relName: this.relName(), pos };
    if (this.isAliasNext()) j.relAlias = this.next().text;
    return j;
  }

  private matchPattern(): MatchPattern {
    const pos = at(this.next());
    const nodes: MatchNode[] = [this.matchNode()];
    const edges: MatchEdge[] = [];
    // `MATCH (a)` alone is allowed: one twin collection, no relationship condition.
    while (this.isPunct('-') || this.isPunct('<-')) {
      edges.push(this.matchEdge());
      nodes.push(this.matchNode());
    }
    return { nodes, edges, pos };
  }

  private matchNode(): MatchNode {
    const open = this.punct('(');
    if (this.isPunct(')')) {
      this.next();
      return { name: `#${this.anon++}`, anonymous: true, pos: at(open) };
    }
    const name = this.aliasName('a twin name or )');
    this.punct(')');
    return { name, anonymous: false, pos: at(open) };
  }

  private matchEdge(): MatchEdge {
    const start = this.next();
    const leftArrow = start.text === '<-';
    this.punct('[');
    const edge: MatchEdge = {
      names: [],
      direction: 'both',
      minHops: 1,
      maxHops: 1,
      variable: false,
      pos: at(start),
    };
    const nameList = (): void => {
      edge.names.push(this.relName());
      while (this.isPunct('|')) {
        this.next();
        edge.names.push(this.relName());
      }
    };
    // `[a|b*..3]` (a list of names without ':', as in one of ADT's own samples) names relationships;
    // a single word without ':' (`[r]`) names the relationship variable.
    if (this.peek().kind === 'ident' && this.peekAt(1).kind === 'punct' && this.peekAt(1).text === '|')
      nameList();
    else if (this.isAliasNext()) edge.relAlias = this.next().text;
    if (this.isPunct(':')) {
      this.next();
      nameList();
    }
    if (this.isPunct('*')) this.hopRange(edge);
    this.punct(']');
    const end = this.peek();
    if (end.kind === 'punct' && end.text === '->') {
      if (leftArrow)
        throw syntaxError(
          "A relationship condition cannot point both ways ('<-[...]->'); use '-[...]-'",
          at(end),
        );
      edge.direction = 'out';
    } else if (end.kind === 'punct' && end.text === '-') {
      edge.direction = leftArrow ? 'in' : 'both';
    } else throw this.expected("'->' or '-' after the relationship condition");
    this.next();
    return edge;
  }

  /**
   * ADT's hop counts: `*n` exactly n; `*n..m` more than n and at most m (the starting limit is not
   * in the range, the ending limit is); `*..m` one to m. Extensions: `*` (one or more, no limit)
   * and `*n..` (more than n, no limit); `*0` is the twin itself.
   */
  private hopRange(edge: MatchEdge): void {
    const star = this.next();
    edge.variable = true;
    let from: number | undefined;
    if (this.peek().kind === 'number') from = this.integer('hop count');
    if (!this.isPunct('..')) {
      edge.minHops = from ?? 1;
      edge.maxHops = from;
      return;
    }
    this.next();
    const to = this.peek().kind === 'number' ? this.integer('hop count') : undefined;
    edge.minHops = (from ?? 0) + 1;
    edge.maxHops = to;
    if (to !== undefined && to < edge.minHops) {
      throw syntaxError(
        `The hop range ${from ?? ''}..${to} is empty: it counts hops after ${from ?? 0} up to and including ${to}`,
        at(star),
      );
    }
  }

  private relName(): string {
    const t = this.peek();
    if (t.kind !== 'ident') throw this.expected('a relationship name');
    return this.next().text;
  }

  // ---- expressions ----

  private expr(): Expr {
    if (++this.depth > MAX_DEPTH) throw syntaxError('The condition is nested too deeply', at(this.peek()));
    try {
      let left = this.andExpr();
      while (this.isKeyword('OR')) {
        const pos = at(this.next());
        left = { kind: 'or', left, right: this.andExpr(), pos };
      }
      return left;
    } finally {
      this.depth--;
    }
  }

  private andExpr(): Expr {
    let left = this.notExpr();
    while (this.isKeyword('AND')) {
      const pos = at(this.next());
      left = { kind: 'and', left, right: this.notExpr(), pos };
    }
    return left;
  }

  private notExpr(): Expr {
    if (this.isKeyword('NOT')) {
      const pos = at(this.next());
      if (++this.depth > MAX_DEPTH) throw syntaxError('The condition is nested too deeply', pos);
      try {
        return { kind: 'not', operand: this.notExpr(), pos };
      } finally {
        this.depth--;
      }
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.primary();
    const t = this.peek();
    if (t.kind === 'punct') {
      const ops: Record<string, '=' | '!=' | '<' | '<=' | '>' | '>='> = {
        '=': '=',
        '!=': '!=',
        '<>': '!=',
        '<': '<',
        '<=': '<=',
        '>': '>',
        '>=': '>=',
      };
      const op = ops[t.text];
      if (op) {
        this.next();
        return { kind: 'compare', op, left, right: this.primary(), pos: at(t) };
      }
      if (t.text === '<-') {
        // `x<-5` lexes as "<-" "5": it is "x < -5".
        this.next();
        const n = this.peek();
        if (n.kind !== 'number') throw this.expected('a number after "<-"');
        this.next();
        return {
          kind: 'compare',
          op: '<',
          left,
          right: { kind: 'literal', value: -(n.value as number), pos: at(t) },
          pos: at(t),
        };
      }
    }
    if (this.isKeyword('IN') || this.isKeyword('NIN')) {
      const negated = t.text.toUpperCase() === 'NIN';
      this.next();
      return { kind: 'in', operand: left, list: this.literalList(), negated, pos: at(t) };
    }
    if (
      this.isKeyword('NOT') &&
      this.peekAt(1).kind === 'ident' &&
      !this.peekAt(1).quoted &&
      this.peekAt(1).text.toUpperCase() === 'IN'
    ) {
      this.next();
      this.next();
      return { kind: 'in', operand: left, list: this.literalList(), negated: true, pos: at(t) };
    }
    return left;
  }

  private literalList(): Literal[] {
    this.punct('[');
    const items: Literal[] = [];
    if (!this.isPunct(']')) {
      for (;;) {
        const e = this.primary();
        if (e.kind !== 'literal')
          throw syntaxError('A list holds literal values only (strings, numbers, true, false, null)', e.pos);
        items.push(e.value);
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    this.punct(']');
    return items;
  }

  private primary(): Expr {
    const t = this.peek();
    const pos = at(t);
    if (t.kind === 'string') {
      this.next();
      return { kind: 'literal', value: t.text, pos };
    }
    if (t.kind === 'number') {
      this.next();
      return { kind: 'literal', value: t.value as number, pos };
    }
    if (t.kind === 'punct') {
      if (t.text === '-' && this.peekAt(1).kind === 'number') {
        this.next();
        return { kind: 'literal', value: -(this.next().value as number), pos };
      }
      if (t.text === '(') {
        this.next();
        const e = this.expr();
        this.punct(')');
        return e;
      }
      if (t.text === '[') return { kind: 'array', items: this.literalList(), pos };
      throw this.expected('a value, a property or a condition');
    }
    if (t.kind !== 'ident') throw this.expected('a value, a property or a condition');
    if (t.quoted) return this.path();
    const upper = t.text.toUpperCase();
    if (upper === 'TRUE' || upper === 'FALSE' || upper === 'NULL') {
      this.next();
      return { kind: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE', pos };
    }
    if (this.peekAt(1).kind === 'punct' && this.peekAt(1).text === '(') return this.call();
    if (RESERVED.has(upper)) throw this.expected('a value, a property or a condition');
    return this.path();
  }

  private call(): Expr {
    const nameTok = this.next();
    const upper = nameTok.text.toUpperCase();
    const name = Object.hasOwn(FUNCTION_ALIASES, upper) ? (FUNCTION_ALIASES[upper] as string) : upper;
    const pos = at(nameTok);
    this.punct('(');
    if (name === 'IS_OF_MODEL') return this.isOfModel(pos);
    const arity = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    if (!arity) throw syntaxError(`Unknown function '${nameTok.text}'`, pos);
    const args: Expr[] = [];
    if (!this.isPunct(')')) {
      for (;;) {
        args.push(this.expr());
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    this.punct(')');
    if (!arity.includes(args.length)) {
      throw syntaxError(`${name} takes ${arity.join(' or ')} argument(s), not ${args.length}`, pos);
    }
    return { kind: 'call', name, args, pos };
  }

  private isOfModel(pos: Pos): Expr {
    let alias: string | undefined;
    if (this.peek().kind === 'ident') {
      alias = this.aliasName('a collection name or a model id in quotes');
      this.punct(',');
    }
    const m = this.peek();
    if (m.kind !== 'string') throw this.expected('a model id in quotes');
    this.next();
    let exact = false;
    if (this.isPunct(',')) {
      this.next();
      if (!this.isKeyword('EXACT')) throw this.expected("'exact'");
      this.next();
      exact = true;
    }
    this.punct(')');
    return { kind: 'isOfModel', model: m.text, exact, pos, ...(alias !== undefined && { alias }) };
  }

  private path(): Expr & { kind: 'path' } {
    const first = this.next();
    const segments = [first.text];
    while (this.isPunct('.')) {
      this.next();
      const s = this.peek();
      if (s.kind !== 'ident') throw this.expected('a property name after "."');
      segments.push(this.next().text);
    }
    return { kind: 'path', segments, pos: at(first) };
  }

  // ---- token helpers ----

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private peekAt(k: number): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isKeyword(k: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && !t.quoted && t.text.toUpperCase() === k;
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }

  private isAliasNext(): boolean {
    const t = this.peek();
    return t.kind === 'ident' && (t.quoted === true || !RESERVED.has(t.text.toUpperCase()));
  }

  private aliasName(what: string): string {
    if (!this.isAliasNext()) throw this.expected(what);
    return this.next().text;
  }

  private keyword(k: string): Token {
    if (!this.isKeyword(k)) throw this.expected(k);
    return this.next();
  }

  private punct(p: string): Token {
    if (!this.isPunct(p)) throw this.expected(`'${p}'`);
    return this.next();
  }

  private integer(what: string): number {
    const t = this.peek();
    if (t.kind !== 'number' || !Number.isSafeInteger(t.value) || (t.value as number) < 0) {
      throw this.expected(`a whole number (${what})`);
    }
    this.next();
    return t.value as number;
  }

  private expected(what: string): Error {
    const t = this.peek();
    if (
      t.kind === 'ident' &&
      !t.quoted &&
      RESERVED.has(t.text.toUpperCase()) &&
      !/^(FROM|WHERE|AND|OR|AS|JOIN|MATCH)$/i.test(t.text)
    ) {
      return syntaxError(
        `Expected ${what} but found the reserved word '${t.text}': to use it as a name, escape it as [[${t.text}]]`,
        at(t),
      );
    }
    const found =
      t.kind === 'eof'
        ? 'the end of the query'
        : t.kind === 'string'
          ? `the string '${t.text}'`
          : `'${t.text}'`;
    return syntaxError(`Expected ${what} but found ${found}`, at(t));
  }
}

function at(t: Token): Pos {
  return { line: t.line, column: t.column };
}
