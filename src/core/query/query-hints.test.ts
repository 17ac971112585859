import { describe, it, expect } from 'vitest';
import { telemetryPathHints } from './query-hints.js';

const T = new Set(['vibration', 'temperature']);

describe('telemetryPathHints', () => {
  it('names the $telemetry form of a plain path that names a telemetry, once per path', () => {
    expect(
      telemetryPathHints(
        "SELECT P.$dtId, P.vibration FROM DIGITALTWINS L JOIN P RELATED L.hasEquipment WHERE L.$dtId = 'line-3' AND P.vibration > 7",
        T,
      ),
    ).toEqual([
      "'P.vibration' reads a property, and vibration is a telemetry: its latest reading is P.$telemetry.vibration",
    ]);
    expect(telemetryPathHints('SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(temperature)', T)).toEqual([
      "'temperature' reads a property, and temperature is a telemetry: its latest reading is $telemetry.temperature",
    ]);
    expect(
      telemetryPathHints('SELECT A FROM DIGITALTWINS MATCH (A)-[]->(B) WHERE NOT (B.vibration IN [1, 2])', T),
    ).toHaveLength(1);
  });

  it('stays quiet for $telemetry, properties, $ fields, relationships and bad text', () => {
    expect(telemetryPathHints('SELECT T FROM DIGITALTWINS T WHERE T.$telemetry.vibration > 7', T)).toEqual(
      [],
    );
    expect(
      telemetryPathHints("SELECT T FROM DIGITALTWINS T WHERE T.name = 'x' AND T.$dtId = 'a'", T),
    ).toEqual([]);
    expect(
      telemetryPathHints('SELECT T FROM DIGITALTWINS T JOIN C RELATED T.feeds R WHERE R.vibration > 1', T),
    ).toEqual([]);
    expect(telemetryPathHints('SELECT R FROM RELATIONSHIPS R WHERE R.vibration > 1', T)).toEqual([]);
    expect(telemetryPathHints('SELECT T FROM DIGITALTWINS T WHERE T.vibration >', T)).toEqual([]);
  });
});
