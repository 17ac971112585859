import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTwinloopError } from '../errors/errors.js';
import { couldMatch, evaluateFilter, matchesFilter } from './route-filter-eval.js';
import { parseFilter, printFilter, type FilterInput, type FilterNode, type Operand } from './route-filter.js';

const ev = (attributes: Record<string, string>, body?: unknown): FilterInput => ({ attributes, body });
const create = ev(
  {
    type: 'Microsoft.DigitalTwins.Twin.Create',
    source: 'host.example',
    subject: 'pump-1',
    id: 'e1',
    specversion: '1.0',
  },
  { $dtId: 'pump-1', $metadata: { $model: 'dtmi:ex:Pump;1' }, rpm: 1200, tags: ['a'] },
);

function problemOf(text: string): { code: string; line?: number; column?: number } {
  try {
    parseFilter(text);
  } catch (e) {
    if (!isTwinloopError(e)) throw e;
    expect(e.code).toBe('EventRouteFilterInvalid');
    return e.problems[0]!;
  }
  throw new Error(`'${text}' parsed`);
}

describe('route filters: ADT syntax', () => {
  it.each([
    ["type = 'Microsoft.DigitalTwins.Twin.Create'", true],
    ["type = 'Microsoft.DigitalTwins.Twin.Update'", false],
    ["type != 'Microsoft.DigitalTwins.Twin.Update'", true],
    ["type <> 'x'", true],
    ['true', true],
    ['false', false],
    ['TRUE', true],
    ["source = 'host.example' and subject = 'pump-1'", true],
    ["type = 'x' OR subject = 'pump-1'", true],
    ["NOT (type = 'x')", true],
    ["STARTS_WITH(subject, 'pump')", true],
    ["ENDS_WITH(subject, '-1')", true],
    ["CONTAINS(type, 'Twin')", true],
    ["starts_with($body.$metadata.$model, 'dtmi:ex:')", true],
    ['$body.rpm > 1000', true],
    ['$body.rpm >= 1200 AND $body.rpm <= 1200', true],
    ['$body.rpm < 1000', false],
    ["$body['rpm'] = 1200", true],
    ["$body.tags[0] = 'a'", true],
    ["$body.missing = 'x'", false],
    ["NOT ($body.missing = 'x')", false], // unknown stays unknown
    ["dataschema = 'x' OR true", true],
    ["specversion = '1.0'", true],
    ["id = 'e1'", true],
    ["subject = 'it''s'", false],
  ])('%s → %s', (text, want) => {
    expect(matchesFilter(parseFilter(text), create)).toBe(want);
  });

  it('reports problems with line and column', () => {
    expect(problemOf("type = 'x' AND")).toMatchObject({ code: 'filter.syntax', line: 1, column: 15 });
    expect(problemOf("type = 'x'\n  OR subject =")).toMatchObject({ line: 2, column: 15 });
    expect(problemOf("type = 'unclosed")).toMatchObject({ code: 'filter.string', column: 8 });
    expect(problemOf('type ~ 1')).toMatchObject({ code: 'filter.token', column: 6 });
    expect(problemOf('$metadata = 1')).toMatchObject({ code: 'filter.syntax', column: 1 });
    expect(problemOf('')).toMatchObject({ code: 'filter.empty' });
    expect(problemOf('subject')).toMatchObject({ code: 'filter.syntax' });
    expect(problemOf("STARTS_WITH(subject 'a')")).toMatchObject({ code: 'filter.syntax', column: 21 });
  });

  it('keeps its budgets: length, depth, path length (no stack overflow on hostile filters)', () => {
    expect(problemOf(`subject = '${'x'.repeat(5000)}'`).code).toBe('filter.length');
    expect(problemOf(`${'('.repeat(40)}true${')'.repeat(40)}`).code).toBe('filter.depth');
    expect(problemOf(`${'NOT '.repeat(1000)}true`).code).toBe('filter.depth');
    expect(problemOf(`$body${'.a'.repeat(40)} = 1`).code).toBe('filter.path');
    const t0 = performance.now();
    expect(problemOf('('.repeat(100_000)).code).toBe('filter.length');
    expect(performance.now() - t0).toBeLessThan(200);
    expect(() => parseFilter(42)).toThrow(/must be a string/);
  });

  it('never reads inherited members of the body ($body.__proto__, constructor)', () => {
    expect(matchesFilter(parseFilter("$body.constructor = 'x' OR $body['__proto__'] = 1"), create)).toBe(
      false,
    );
    expect(evaluateFilter(parseFilter('$body.toString = 1'), create)).toBeUndefined();
  });

  it('tells whether a filter could want telemetry', () => {
    const tel = { type: 'microsoft.iot.telemetry' };
    expect(couldMatch(parseFilter("type = 'microsoft.iot.telemetry'"), tel)).toBe(true);
    expect(couldMatch(parseFilter("type = 'Microsoft.DigitalTwins.Twin.Create'"), tel)).toBe(false);
    expect(couldMatch(parseFilter('true'), tel)).toBe(true);
    expect(couldMatch(parseFilter("STARTS_WITH(subject, 'p')"), tel)).toBe(true);
    expect(couldMatch(parseFilter("STARTS_WITH(type, 'Microsoft.') AND subject = 'x'"), tel)).toBe(false);
  });
});

// ---------------------------------------------------------------- properties

const attrName = fc.constantFrom('type', 'source', 'subject', 'id', 'dataschema', 'specversion', 'myext');
const str = fc.string({ maxLength: 8 });
const literal = fc.oneof(str, fc.integer({ min: -1000, max: 1000 }), fc.boolean(), fc.constant(null));
const operand: fc.Arbitrary<Operand> = fc.oneof(
  attrName.map((name) => ({ kind: 'attr' as const, name })),
  fc
    .array(fc.oneof(fc.constantFrom('a', 'b', '$model', 'x y', "q'"), fc.nat({ max: 3 })), {
      minLength: 1,
      maxLength: 3,
    })
    .map((path) => ({ kind: 'body' as const, path })),
  literal.map((value) => ({ kind: 'lit' as const, value })),
);
const node: fc.Arbitrary<FilterNode> = fc.letrec<{ n: FilterNode }>((tie) => ({
  n: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.boolean().map((value) => ({ kind: 'const' as const, value })),
    fc
      .tuple(fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), operand, operand)
      .map(([op, left, right]) => ({ kind: 'cmp' as const, op, left, right })),
    fc
      .tuple(fc.constantFrom('STARTS_WITH', 'ENDS_WITH', 'CONTAINS' as const), operand, operand)
      .map(([fn, a, b]) => ({ kind: 'fn' as const, fn, args: [a, b] as [Operand, Operand] })),
    tie('n').map((expr) => ({ kind: 'not' as const, expr })),
    fc
      .tuple(fc.constantFrom('and', 'or' as const), tie('n'), tie('n'))
      .map(([kind, left, right]) => ({ kind, left, right })),
  ),
})).n;
const input: fc.Arbitrary<FilterInput> = fc.record({
  attributes: fc.dictionary(attrName, str, { maxKeys: 4 }),
  body: fc.oneof(
    fc.constant(undefined),
    fc.record(
      { a: fc.oneof(str, fc.integer(), fc.array(str)), b: fc.record({ $model: str }) },
      { requiredKeys: [] },
    ),
  ),
});

describe('route filters: properties', () => {
  it('printing and parsing again gives the same tree', () => {
    fc.assert(
      fc.property(node, (n) => {
        const text = printFilter(n);
        if (text.length > 4096) return;
        let depthOk = true;
        try {
          expect(parseFilter(text)).toEqual(n);
        } catch (e) {
          depthOk = isTwinloopError(e) && e.problems[0]?.code === 'filter.depth';
          if (!depthOk) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('any text either parses or fails with EventRouteFilterInvalid and a position', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[()'"$.[\]a-zA-Z0-9 =<>!,_-]{0,60}$/)),
        (text) => {
          try {
            parseFilter(text);
          } catch (e) {
            expect(isTwinloopError(e) && e.code === 'EventRouteFilterInvalid').toBe(true);
            if (isTwinloopError(e)) expect(e.problems[0]?.column ?? 1).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('NOT NOT f is f where f is known, and De Morgan holds (three-valued)', () => {
    fc.assert(
      fc.property(node, node, input, (a, b, i) => {
        expect(evaluateFilter({ kind: 'not', expr: { kind: 'not', expr: a } }, i)).toBe(evaluateFilter(a, i));
        const lhs = evaluateFilter({ kind: 'not', expr: { kind: 'and', left: a, right: b } }, i);
        const rhs = evaluateFilter(
          { kind: 'or', left: { kind: 'not', expr: a }, right: { kind: 'not', expr: b } },
          i,
        );
        expect(lhs).toBe(rhs);
      }),
      { numRuns: 500 },
    );
  });

  it('couldMatch never rules out an event the filter matches', () => {
    fc.assert(
      fc.property(node, input, (n, i) => {
        if (!matchesFilter(n, i)) return;
        const t = i.attributes.type;
        if (t !== undefined) expect(couldMatch(n, { type: t })).toBe(true);
        expect(couldMatch(n, {})).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
