import { describe, expect, it } from 'vitest';
import { isTwinloopError } from '../../core/errors/errors.js';
import { readRulTrainingRequest, type RulModelInfo } from './rul-training-request.js';

const ENGINE = 'dtmi:example:Engine;1';
const info: RulModelInfo = {
  numericTelemetry: (t) => (t === ENGINE ? ['setting1', 'setting2', 's1', 's2', 's3'] : undefined),
};

function refused(body: unknown): { code: string; pointers: string[] } {
  try {
    readRulTrainingRequest(body, info);
  } catch (e) {
    if (!isTwinloopError(e)) throw e;
    return { code: e.code, pointers: e.problems.map((p) => p.pointer ?? '') };
  }
  throw new Error('accepted');
}

describe('readRulTrainingRequest', () => {
  it('fills the defaults: every numeric telemetry but the settings is a sensor', () => {
    const r = readRulTrainingRequest({ target: ENGINE, settings: ['setting1', 'setting2'] }, info);
    expect(r.spec).toEqual({
      sensors: ['s1', 's2', 's3'],
      settings: ['setting1', 'setting2'],
      window: 150,
      cap: 125,
      regimes: 'auto',
      validationFraction: 0.2,
      seed: 1,
    });
    expect(r.promote).toBe(false);
    expect(r.stepMs).toBeUndefined();
  });

  it('takes every option', () => {
    const r = readRulTrainingRequest(
      {
        kind: 'rul',
        target: ENGINE,
        sensors: ['s1', 's2'],
        settings: [],
        stepSeconds: 3600,
        window: 20,
        cap: 130,
        regimes: 6,
        validationFraction: 0.25,
        seed: 7,
        twins: ['a', 'b', 'a'],
        twinIdPrefix: 'fd001-',
        failedAtProperty: 'failedAt',
        promote: true,
        note: 'first try',
      },
      info,
    );
    expect(r.stepMs).toBe(3_600_000);
    expect(r.twins).toEqual(['a', 'b']);
    expect(r.spec.regimes).toBe(6);
    expect(r.promote).toBe(true);
  });

  it('answers ModelNotFound for an unknown target and 400 for a missing one', () => {
    expect(refused({ target: 'dtmi:example:Nope;1' }).code).toBe('ModelNotFound');
    expect(refused({}).pointers).toEqual(['/target']);
    expect(refused(null).code).toBe('ValidationFailed');
    expect(refused([ENGINE]).code).toBe('ValidationFailed');
  });

  it('names every bad field with its pointer', () => {
    const r = refused({
      target: ENGINE,
      sensors: ['s1', 'nope', 's1', 7],
      window: 0,
      cap: -1,
      regimes: 'many',
      validationFraction: 0.9,
      seed: 1.5,
      stepSeconds: Number.MAX_VALUE,
      promote: 'yes',
      twins: [],
      colour: 'red',
    });
    expect(r.code).toBe('ValidationFailed');
    expect(r.pointers).toEqual(
      expect.arrayContaining([
        '/sensors/1',
        '/sensors/2',
        '/sensors/3',
        '/window',
        '/cap',
        '/regimes',
        '/validationFraction',
        '/seed',
        '/stepSeconds',
        '/promote',
        '/twins',
        '/colour',
      ]),
    );
  });

  it('treats __proto__ and constructor keys as unknown options, not as the object prototype', () => {
    const body = JSON.parse(
      `{"target":"${ENGINE}","__proto__":{"promote":true},"constructor":{"prototype":{"x":1}}}`,
    ) as unknown;
    const r = refused(body);
    expect(r.pointers).toEqual(['/__proto__', '/constructor']);
    expect(({} as Record<string, unknown>).promote).toBeUndefined();
  });

  it('bounds the lists it takes', () => {
    expect(refused({ target: ENGINE, sensors: new Array(201).fill('s1') }).pointers).toEqual(['/sensors']);
    expect(refused({ target: ENGINE, twins: new Array(100_001).fill('x') }).pointers).toEqual(['/twins']);
    expect(refused({ target: ENGINE, note: 'x'.repeat(1001) }).pointers).toEqual(['/note']);
  });
});
