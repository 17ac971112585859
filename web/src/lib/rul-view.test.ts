import { describe, expect, it } from 'vitest';
import { naturalOrder, rulView } from './rul-view.js';

const answer = {
  twinId: 'fd001-test-1',
  modelId: 'rul-abc-v1',
  version: 1,
  rul: 121.42,
  lower: 99.19,
  upper: 144.8,
  step: 31,
  time: '2020-01-02T07:00:00.000Z',
  stepSeconds: 3600,
};

describe('rulView', () => {
  it('says the steps left, the time they mean and the band', () => {
    const v = rulView(answer, 'en-GB');
    expect(v.value).toBe('121 steps');
    expect(v.time).toBe('≈ 5.04 d at 1 h a step');
    expect(v.band).toBe('10–90 % band: 99 to 145 steps');
    expect(v.at).toMatch(/^at its step 31 \(from /);
    expect(v.due).toBe(false);
  });

  it('never shows a negative life, and calls it due at the end or when the band reaches it', () => {
    expect(rulView({ ...answer, rul: -3.2, lower: -9, upper: 2 })).toMatchObject({
      value: '0 steps',
      due: true,
      band: '10–90 % band: 0 to 2 steps',
    });
    expect(rulView({ ...answer, rul: 4, lower: -1 }).due).toBe(true);
    expect(rulView({ ...answer, rul: 1 }).value).toBe('1 step');
  });

  it('leaves out what the answer does not give', () => {
    const v = rulView({ ...answer, lower: undefined, upper: undefined, stepSeconds: undefined });
    expect(v.band).toBeUndefined();
    expect(v.time).toBeUndefined();
  });
});

describe('naturalOrder', () => {
  it('puts s2 before s10', () => {
    expect(['s10', 's2', 's1', 'setting1', 's21'].sort(naturalOrder)).toEqual([
      's1',
      's2',
      's10',
      's21',
      'setting1',
    ]);
  });
});
