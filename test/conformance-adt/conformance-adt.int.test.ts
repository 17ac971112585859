/**
 * The ADT conformance runner works: it starts a real Twinloop over HTTPS, runs checks through the
 * official SDK and raw REST, and reports a failure as a failure. A small part of the suite runs here
 * (components, a cheap area) with the runner's self-test checks; the whole table is not asserted.
 */
import { describe, expect, it } from 'vitest';
import { runConformance } from './run.js';
import {
  SELF_TEST_ERROR_SHAPE,
  SELF_TEST_RIGHT,
  SELF_TEST_THROWS,
  SELF_TEST_WEBHOOK,
  SELF_TEST_WRONG,
} from './self-test.js';

describe('npm run conformance:adt', () => {
  it('runs checks against a real Twinloop over HTTPS and fails what must fail', async () => {
    const out = await runConformance({
      verbose: true,
      json: false,
      areas: ['components'],
      selfTest: true,
      keep: false,
      blobStyle: 'http',
      floor: { kind: 'count', value: 1_000_000 },
    });
    const byName = new Map(out.selfTest.map((r) => [r.name, r]));
    expect(byName.get(SELF_TEST_RIGHT)?.pass).toBe(true);
    expect(byName.get(SELF_TEST_WEBHOOK)?.pass).toBe(true);
    expect(byName.get(SELF_TEST_WRONG)).toMatchObject({ pass: false, expected: 'HTTP 200' });
    expect(byName.get(SELF_TEST_WRONG)?.got).toMatch(/^HTTP 404/);
    expect(byName.get(SELF_TEST_THROWS)).toMatchObject({ pass: false, got: 'thrown on purpose' });
    expect(byName.get(SELF_TEST_ERROR_SHAPE)?.pass).toBe(false);

    // Only the asked area ran, through both the SDK and raw REST, and some of it passed.
    expect(new Set(out.results.map((r) => r.area))).toEqual(new Set(['components']));
    expect(new Set(out.results.map((r) => r.via))).toEqual(new Set(['rest', 'sdk']));
    expect(out.results.some((r) => r.pass)).toBe(true);
    // The self-test checks are not in the table.
    expect(out.text).not.toContain('self-test');
    expect(out.text).toMatch(/components\s+\d+\/\d+\s+\d+\/\d+\s+\d+\/\d+/);
    // Below the floor: a non-zero exit code and the reason.
    expect(out.code).toBe(1);
    expect(out.text).toMatch(/below the floor of 1000000/);
  }, 120_000);
});
