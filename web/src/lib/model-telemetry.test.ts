import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelCommands, modelLineage, modelTelemetry } from './model-telemetry.js';

const pumpLine = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../pilots/pump-line/models',
);

describe("a model's telemetry", () => {
  it("reads the pump-line pilot's pump: own, inherited and its motor component's", () => {
    const models = readdirSync(pumpLine).flatMap((f) => {
      const doc = JSON.parse(readFileSync(path.join(pumpLine, f), 'utf8')) as unknown;
      return Array.isArray(doc) ? doc : [doc];
    });
    const t = modelTelemetry('dtmi:twinloop:pumpline:Pump;1', models);
    expect(t.has('vibration')).toBe(true);
    expect(t.has('flow')).toBe(true);
    expect([...t].some((n) => n.startsWith('motor/'))).toBe(true);
    expect(t.has('vibrationResidual')).toBe(false); // derived by the platform, not declared
  });

  it('follows extends and components, survives cycles and junk', () => {
    const models = [
      { '@id': 'dtmi:a;1', extends: ['dtmi:b;1'], contents: [{ '@type': 'Telemetry', name: 'x' }, null, 3] },
      {
        '@id': 'dtmi:b;1',
        extends: 'dtmi:a;1',
        contents: [{ '@type': ['Telemetry', 'Temperature'], name: 't' }],
      },
      {
        '@id': 'dtmi:c;1',
        contents: [
          { '@type': 'Component', name: 'm', schema: 'dtmi:a;1' },
          { '@type': 'Property', name: 'p' },
          { '@type': 'Telemetry' },
        ],
      },
      'junk',
      null,
    ];
    expect([...modelTelemetry('dtmi:a;1', models)].sort()).toEqual(['t', 'x']);
    expect([...modelTelemetry('dtmi:c;1', models)].sort()).toEqual(['m/t', 'm/x']);
    expect(modelTelemetry('dtmi:none;1', models).size).toBe(0);
  });
});

describe('model commands', () => {
  const base = {
    '@id': 'dtmi:t:Base;1',
    '@type': 'Interface',
    contents: [{ '@type': 'Command', name: 'reset', description: { en: 'Resets the counters.' } }],
  };
  const pump = {
    '@id': 'dtmi:t:Pump;1',
    '@type': 'Interface',
    extends: 'dtmi:t:Base;1',
    contents: [
      { '@type': 'Telemetry', name: 'flow', schema: 'double' },
      {
        '@type': 'Command',
        name: 'setRunning',
        description: 'Start or stop the pump.',
        request: { name: 'running', schema: 'boolean' },
      },
      { '@type': 'Component', name: 'motor', schema: 'dtmi:t:Motor;1' },
      { '@type': 'Command', name: 'reset' }, // a second declaration of a name: the first wins
    ],
  };
  const motor = {
    '@id': 'dtmi:t:Motor;1',
    '@type': 'Interface',
    contents: [{ '@type': 'Command', name: 'calibrate' }],
  };

  it('lists the commands of the model and what it extends, not its components', () => {
    expect(modelCommands('dtmi:t:Pump;1', [pump, base, motor])).toEqual([
      { name: 'reset', description: 'Resets the counters.' },
      {
        name: 'setRunning',
        description: 'Start or stop the pump.',
        request: { name: 'running', schema: 'boolean' },
      },
    ]);
  });

  it('takes hostile documents without throwing', () => {
    const hostile = [
      null,
      42,
      {
        '@id': 'dtmi:t:X;1',
        contents: [{ '@type': 'Command' }, { '@type': ['Command'], name: '__proto__' }, null],
      },
      { '@id': 'dtmi:t:Loop;1', extends: 'dtmi:t:Loop;1', contents: 'nope' },
    ];
    expect(modelCommands('dtmi:t:X;1', hostile).map((c) => c.name)).toEqual(['__proto__']);
    expect(modelCommands('dtmi:t:Loop;1', hostile)).toEqual([]);
    expect(modelCommands('dtmi:t:Missing;1', hostile)).toEqual([]);
  });
});

describe('modelLineage', () => {
  it('gives the model and what it extends, directly or not, once each, cycles included', () => {
    const docs = [
      { '@id': 'dtmi:x:A;1', '@type': 'Interface', extends: 'dtmi:x:B;1' },
      { '@id': 'dtmi:x:B;1', '@type': 'Interface', extends: ['dtmi:x:C;1', { '@id': 'dtmi:x:D;1' }] },
      { '@id': 'dtmi:x:C;1', '@type': 'Interface', extends: 'dtmi:x:A;1' },
    ];
    expect([...modelLineage('dtmi:x:A;1', docs)].sort()).toEqual([
      'dtmi:x:A;1',
      'dtmi:x:B;1',
      'dtmi:x:C;1',
      'dtmi:x:D;1',
    ]);
    expect([...modelLineage('dtmi:x:Z;1', docs)]).toEqual(['dtmi:x:Z;1']);
  });
});
