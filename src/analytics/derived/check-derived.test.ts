/**
 * Reading and checking derived-value definitions: a good file gives sets in dependency order; bad
 * and hostile ones give every problem at once, each at its line and column.
 */
import { describe, expect, it } from 'vitest';
import { compile, LINE, PUMP, sets } from './derived-test-fixture.js';
import { readDerived } from './read-derived.js';
import { derivedNamesOf } from './derived-types.js';

const at = (r: ReturnType<typeof compile>) => r.problems.map((p) => `${p.code}@${p.line}:${p.column}`);

describe('derived definitions', () => {
  it('reads every kind, orders dependencies and classifies inputs', () => {
    const [s] = sets(`
model: ${PUMP}
values:
  powerEwma: { ewma: { of: power, halfLife: 5min }, unit: kilowatt }
  power: { expr: 'flow * head / 36 * running', unit: kilowatt, description: hydraulic power }
  overLimit: { expr: 'vibration > vibrationLimit' }
  vibMax: { sliding: { of: vibration, size: 10min, aggregate: max, maxPoints: 500 } }
  flowMean: { tumbling: { of: flow, size: 1h, aggregate: mean } }
  headRate: { rate: { of: head, per: min } }
  headTrend: { rate: { of: head, per: h, halfLife: 10min } }
  silence: { since: {} }
  silentFlow: { since: { of: flow } }
  motorAmps: { expr: motor.current * 2 }
  upstream: { expr: 'sum(feeds, flow) + count(feeds) + max(feeds, vibration) + max(flow, 1)' }
`);
    expect(s?.target).toEqual({ model: PUMP });
    const names = s?.values.map((v) => v.name) ?? [];
    expect(names.indexOf('power')).toBeLessThan(names.indexOf('powerEwma'));
    const byName = new Map(s?.values.map((v) => [v.name, v]));
    expect(byName.get('powerEwma')).toMatchObject({
      kind: 'ewma',
      of: 'power',
      halfLifeMs: 300_000,
      unit: 'kilowatt',
      dependsOn: ['power'],
    });
    expect(byName.get('vibMax')).toMatchObject({
      kind: 'sliding',
      sizeMs: 600_000,
      aggregate: 'max',
      maxPoints: 500,
    });
    expect(byName.get('flowMean')).toMatchObject({ kind: 'tumbling', sizeMs: 3_600_000 });
    expect(byName.get('headRate')).toMatchObject({ kind: 'rate', perMs: 60_000 });
    expect(byName.get('headRate')).not.toHaveProperty('halfLifeMs');
    expect(byName.get('headTrend')).toMatchObject({ kind: 'rate', perMs: 3_600_000, halfLifeMs: 600_000 });
    expect(byName.get('silence')).toMatchObject({ kind: 'since' });
    const over = byName.get('overLimit');
    expect(over?.kind === 'expr' && over.inputs).toEqual([
      { slot: 'vibration', from: 'telemetry', name: 'vibration' },
      { slot: 'vibrationLimit', from: 'property', name: 'vibrationLimit' },
    ]);
    const up = byName.get('upstream');
    expect(up?.kind === 'expr' && up.inputs.map((i) => i.slot)).toEqual([
      'sum(feeds,flow)',
      'count(feeds)',
      'max(feeds,vibration)',
      'flow',
    ]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // JSON-safe
  });

  it('reports every problem at once, at its line and column', () => {
    const r = compile(`model: ${PUMP}
values:
  flow: { expr: head * 2 }
  a: { expr: 'b + nope' }
  b: { expr: 'a * 2' }
  c: { ewma: { of: status, halfLife: 5min } }
  d: { expr: 'serial + 1' }
  ee: { expr: 'sum(nothing, flow)' }
  f: { sliding: { of: flow, size: 2d, aggregate: median } }
  g: { expr: 'flow', rate: { of: flow } }
  h: { expr: 'sum(feeds, temperature)' }
  i: { rate: { of: flow, per: fortnight } }
  j: { expr: 'flow +' }
  k: { rate: { of: flow, halfLife: 8d } }
`);
    expect(at(r)).toEqual([
      'analytics.derived.invalidValue@9:35', // size over 24 h
      'analytics.derived.invalidValue@9:50', // aggregate
      'analytics.derived.unknownField@10:3', // two kinds
      'analytics.derived.invalidValue@12:31', // per
      'analytics.derived.syntax@13:21', // 'flow +'
      'analytics.derived.invalidValue@14:36', // half-life over 7 d
      'analytics.derived.nameClash@3:3',
      'analytics.derived.unknownVariable@4:19',
      'analytics.derived.notNumeric@6:20',
      'analytics.derived.notNumeric@7:14',
      'analytics.derived.aggregate@8:16',
      'analytics.derived.unknownNeighbourValue@11:26',
      'analytics.derived.cycle@4:3',
    ]);
    expect(r.problems.find((p) => p.code.endsWith('cycle'))?.message).toContain('a → b → a');
    expect(r.problems.every((p) => p.source === 'f0.yaml' && p.pointer !== undefined)).toBe(true);
    expect(r.sets).toEqual([]);
  });

  it('rejects a value reading itself, and cycles across kinds', () => {
    const r = compile(
      `model: ${PUMP}\nvalues:\n  x: { expr: 'x + 1' }\n  y: { ewma: { of: z, halfLife: 1 } }\n  z: { expr: 'y' }\n`,
    );
    expect(r.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('x → x'),
      expect.stringContaining('y → z → y'),
    ]);
  });

  it('checks targets, duplicates across files, and per-twin sets over model sets', () => {
    const r = compile(
      `model: ${PUMP}\nvalues:\n  p: { expr: flow * 2 }\n`,
      `model: ${PUMP}\nvalues:\n  p: { expr: flow * 3 }\n`,
      `model: dtmi:test:Nope;1\nvalues:\n  q: { expr: 1 }\n`,
      `twin: ghost\nvalues:\n  q: { expr: 1 }\n`,
      `model: ${PUMP}\ntwin: p1\nvalues:\n  q: { expr: 1 }\n`,
    );
    expect(at(r)).toEqual([
      'analytics.derived.missing@1:1',
      'analytics.derived.duplicate@3:3',
      'analytics.derived.unknownModel@1:8',
      'analytics.derived.unknownTwin@1:7',
    ]);
    // A twin's own set may read the model's values and replace one of them.
    const ok = sets(
      `model: ${PUMP}\nvalues:\n  p: { expr: flow * 2 }\n`,
      `twin: p1\nvalues:\n  p2x: { expr: p * 2 }\n`,
    );
    expect(ok[1]?.target).toEqual({ twin: 'p1', model: PUMP });
    expect(ok[1]?.values[0]?.dependsOn).toEqual(['p']);
    expect(
      sets(
        `model: ${LINE}\nvalues:\n  total: { expr: 'sum(hasPump, flow) + avg(hasPump, p)' }\n`,
        `model: ${PUMP}\nvalues:\n  p: { expr: flow }\n`,
      ),
    ).toHaveLength(2);
    // A value only an extension of the relationship's target has (BigPump's speed) is accepted.
    expect(sets(`model: ${LINE}\nvalues:\n  s: { expr: 'max(hasPump, speed)' }\n`)).toHaveLength(1);
  });

  it('refuses hostile definitions without crashing', () => {
    const hostile = compile(`model: ${PUMP}
values:
  __proto__: { expr: flow }
  constructor: { expr: flow }
  x1: { expr: 'constructor + __proto__.polluted' }
  x2: { expr: 'globalThis.process + eval(1) + Function(1) + this' }
  x3: { expr: 'flow', __proto__: { polluted: 1 } }
  x4: { expr: 'pi' }
  pi: { expr: 'flow' }
`);
    const codes = at(hostile);
    expect(codes).toContain('analytics.derived.invalidName@3:3');
    expect(codes).toContain('analytics.derived.invalidName@4:3');
    expect(codes).toContain('analytics.derived.unknownField@7:23');
    expect(codes).toContain('analytics.derived.invalidName@9:3');
    expect(codes.filter((c) => c.startsWith('analytics.derived.forbiddenName@5:')).length).toBe(2);
    expect(codes.filter((c) => c.startsWith('analytics.derived.forbiddenName@6:')).length).toBe(4);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // A rate's half-life: zero, negative, not a duration, an object, a huge or broken text.
    for (const hl of [
      '0',
      '-5',
      'soon',
      '{ __proto__: 1 }',
      '[1]',
      `'${'9'.repeat(100_000)}s'`,
      '"1\ud800min"',
    ]) {
      const r = compile(`model: ${PUMP}\nvalues:\n  r: { rate: { of: head, halfLife: ${hl} } }\n`);
      expect(at(r)).toEqual(['analytics.derived.invalidValue@3:36']);
      expect(r.sets.flatMap((set) => set.values)).toEqual([]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const t0 = Date.now();
    expect(readDerived(deep).problems.length).toBeGreaterThan(0);
    expect(
      readDerived(
        `model: ${PUMP}\nvalues: ${JSON.stringify(JSON.parse('{"a":'.repeat(2000) + '1' + '}'.repeat(2000)))}`,
      ).problems.length,
    ).toBeGreaterThan(0);
    expect(readDerived('x'.repeat(1_000_001)).problems[0]?.code).toBe('analytics.derived.tooLarge');
    // Report settings: a huge heartbeat text, bad UTF-8 in it, a deadband nested deep.
    for (const report of [
      `deadband: 1, heartbeat: '${'9'.repeat(100_000)}min'`,
      'deadband: 1, heartbeat: "5\ufffd\ud800min"',
      `deadband: ${'['.repeat(1000)}1${']'.repeat(1000)}`,
    ])
      expect(
        readDerived(`model: ${PUMP}\nvalues:\n  a: { expr: flow, ${report} }`).problems.length,
      ).toBeGreaterThan(0);
    expect(
      readDerived(`model: ${PUMP}\nvalues:\n  a: { expr: '${'('.repeat(500)}1${')'.repeat(500)}' }`)
        .problems[0]?.code,
    ).toBe('analytics.derived.syntax');
    expect(readDerived('a: &x [1]\nb: *x').problems.some((p) => p.code === 'analytics.derived.syntax')).toBe(
      true,
    );
    expect(readDerived('\uFFFD\u0000bad: [').problems.length).toBeGreaterThan(0);
    expect(readDerived('42').problems[0]?.code).toBe('analytics.derived.type');
    expect(Date.now() - t0).toBeLessThan(5000);
    const many = Array.from({ length: 201 }, (_, i) => `  v${i}: { expr: flow }`).join('\n');
    expect(at(compile(`model: ${PUMP}\nvalues:\n${many}`))).toEqual(['analytics.derived.invalidValue@3:3']);
  });
});

describe('report by exception (deadband, heartbeat on telemetry)', () => {
  it('reads the report policy, with the default heartbeat', () => {
    const [s] = sets(`
model: ${PUMP}
values:
  power: { expr: 'flow * head', deadband: 0.1 }
  powerSmooth: { ewma: { of: power, halfLife: 1min }, deadband: 0, heartbeat: 30s }
  plain: { expr: head }
`);
    const byName = new Map(s?.values.map((v) => [v.name, v]));
    expect(byName.get('power')?.report).toEqual({ deadband: 0.1, heartbeatMs: 300_000 });
    expect(byName.get('powerSmooth')?.report).toEqual({ deadband: 0, heartbeatMs: 30_000 });
    expect(byName.get('plain')?.report).toBeUndefined();
  });

  it('refuses bad and misplaced report settings, each at its line and column', () => {
    const r = compile(`model: ${PUMP}
values:
  a1: { expr: head, heartbeat: 1min }
  a2: { expr: head, deadband: -1 }
  a3: { expr: head, deadband: .nan }
  a4: { expr: head, deadband: 1, heartbeat: 100ms }
  a5: { expr: head, deadband: 1, heartbeat: 8d }
  runHours: { expr: head, target: property, heartbeat: 1min }
  a6: { expr: head, deadband: '1; process.exit()' }
  a7: { expr: head, deadband: { __proto__: 1 } }
`);
    expect(at(r)).toEqual([
      'analytics.derived.invalidValue@3:32', // heartbeat without deadband
      'analytics.derived.invalidValue@4:31', // deadband < 0
      'analytics.derived.type@5:31', // not finite
      'analytics.derived.invalidValue@6:45', // heartbeat under 1 s
      'analytics.derived.invalidValue@7:45', // heartbeat over 7 d
      'analytics.derived.invalidValue@8:56', // heartbeat of a property
      'analytics.derived.type@9:31', // not a number
      'analytics.derived.type@10:31', // not a number
    ]);
  });
});

describe('derived properties (target: property)', () => {
  it('reads the write policy, defaults included, and lets other values read the property', () => {
    const [s] = sets(`
model: ${PUMP}
values:
  healthIndex: { expr: 'clamp(1 - vibration / vibrationLimit, 0, 1)', target: property, every: 30s, deadband: 0.01 }
  runHours: { expr: 'flow * 1.6', target: property }
  motor.load: { expr: 'motor.current / 10', target: property, every: 5min }
  healthEwma: { ewma: { of: healthIndex, halfLife: 5min } }
  healthLow: { expr: 'healthIndex < 0.5 || motor.load > 0.9' }
  plain: { expr: 'flow', target: telemetry }
`);
    const byName = new Map(s?.values.map((v) => [v.name, v]));
    expect(byName.get('healthIndex')?.property).toEqual({ everyMs: 30_000, deadband: 0.01, integer: false });
    // long: rounded; `every` 1 min and `deadband` 0 by default
    expect(byName.get('runHours')?.property).toEqual({ everyMs: 60_000, deadband: 0, integer: true });
    expect(byName.get('motor.load')?.property).toEqual({ everyMs: 300_000, deadband: 0, integer: false });
    expect(byName.get('healthEwma')).toMatchObject({
      kind: 'ewma',
      of: 'healthIndex',
      dependsOn: ['healthIndex'],
    });
    expect(byName.get('healthEwma')?.property).toBeUndefined();
    expect(byName.get('plain')?.property).toBeUndefined();
    const low = byName.get('healthLow');
    expect(low?.kind === 'expr' && low.inputs).toEqual([
      { slot: 'healthIndex', from: 'derived', name: 'healthIndex' },
      { slot: 'motor.load', from: 'derived', name: 'motor.load' },
    ]);
    const names = s?.values.map((v) => v.name) ?? [];
    expect(names.indexOf('healthIndex')).toBeLessThan(names.indexOf('healthLow'));
    expect(names.indexOf('motor.load')).toBeLessThan(names.indexOf('healthLow'));
    // Rules see derived telemetry only: the properties are the model's own already.
    expect(derivedNamesOf(s ? [s] : [], PUMP, () => true).sort()).toEqual([
      'healthEwma',
      'healthLow',
      'plain',
    ]);
  });

  it('refuses properties the model does not declare writable and numeric, each at its line and column', () => {
    const r = compile(`model: ${PUMP}
values:
  nothing: { expr: flow, target: property }
  flow: { expr: head, target: property }
  vibrationLimit: { expr: head, target: property }
  label: { expr: head, target: property }
  serial: { expr: head, target: property }
  motor.nope: { expr: head, target: property }
  pump.load: { expr: head, target: property }
  motor.current: { expr: head, target: property }
  healthIndex: { expr: head }
  runHours: { expr: head, target: property, every: 100ms }
  a1: { expr: head, target: sideways }
  a2: { expr: head, every: 1min, deadband: 1 }
  a3: { expr: head, target: property, deadband: -1 }
  a.b: { expr: head }
  a4: { expr: head, target: property, every: 8d }
`);
    expect(at(r)).toEqual([
      'analytics.derived.invalidValue@12:52', // every under 1 s
      'analytics.derived.invalidValue@13:29', // target
      'analytics.derived.invalidValue@14:28', // every without target: property
      'analytics.derived.invalidValue@15:49', // deadband < 0
      'analytics.derived.invalidName@16:3', // a dotted name is a component's property only
      'analytics.derived.invalidValue@17:46', // every over 7 d
      'analytics.derived.propertyNotDeclared@3:3',
      'analytics.derived.propertyNotDeclared@4:3', // a Telemetry
      'analytics.derived.propertyNotWritable@5:3',
      'analytics.derived.propertyNotNumeric@6:3', // string
      'analytics.derived.propertyNotWritable@7:3', // not writable comes first
      'analytics.derived.propertyNotDeclared@8:3',
      'analytics.derived.propertyNotDeclared@9:3', // no component 'pump'
      'analytics.derived.propertyNotDeclared@10:3', // a component's Telemetry
      'analytics.derived.nameClash@11:3',
    ]);
    const msg = (line: number) => r.problems.find((p) => p.line === line)?.message ?? '';
    expect(msg(4)).toContain('is a Telemetry of');
    expect(msg(6)).toContain('has schema string');
    expect(msg(11)).toContain("say 'target: property'");
    expect(r.problems.every((p) => p.source === 'f0.yaml' && p.pointer !== undefined)).toBe(true);
    expect(r.sets).toEqual([]);
  });

  it('refuses hostile property names', () => {
    const r = compile(`model: ${PUMP}
values:
  __proto__: { expr: flow, target: property }
  constructor: { expr: flow, target: property }
  motor.constructor: { expr: flow, target: property }
  motor.__proto__: { expr: flow, target: property }
  __proto__.load: { expr: flow, target: property }
  motor.load.x: { expr: flow, target: property }
`);
    expect(at(r)).toEqual([3, 4, 5, 6, 7, 8].map((l) => `analytics.derived.invalidName@${l}:3`));
    expect(({} as Record<string, unknown>).load).toBeUndefined();
  });
});
