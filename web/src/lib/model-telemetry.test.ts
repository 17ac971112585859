import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelTelemetry } from './model-telemetry.js';

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
