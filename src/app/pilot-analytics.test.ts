/**
 * A pilot's analytics files read together (loadPilotAnalytics) against the pilot's models loaded
 * into a real workspace: the names rules may read include the multivariate groups' scores, and a
 * group that does not fit the models stops the start with every problem at its line.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../test/adt-sdk/workspace-fixture.js';
import { DETECTOR_KINDS } from '../analytics/anomaly/detector.js';
import { isTwinloopError } from '../core/errors/errors.js';
import { loadPilotAnalytics } from './pilot-analytics.js';
import { resolvePilotDir } from './pilot-files.js';
import { loadPilot } from './pilot-loader.js';

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';

describe('loadPilotAnalytics: multivariate groups', () => {
  let w: TestWorkspace | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await w?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the pump-line pilot whose anomaly.yaml gets `extra` appended. */
  async function pilotWith(extra: string) {
    dir = mkdtempSync(path.join(tmpdir(), 'twinloop-pilot-'));
    cpSync(resolvePilotDir('pump-line'), dir, { recursive: true });
    const plan = path.join(dir, 'anomaly.yaml');
    const shipped = readFileSync(plan, 'utf8').replace(/\nmultivariate:[\s\S]*$/, '\n');
    writeFileSync(plan, shipped + extra);
    w = await openTestWorkspace();
    await loadPilot(dir, { models: w.models, twins: w.twins });
    const models = w.models;
    return {
      plan,
      lineOf: (text: string) => (shipped + extra).split('\n').findIndex((l) => l.includes(text)) + 1,
      load: () =>
        loadPilotAnalytics(
          dir!,
          { models, twinModel: () => undefined, modelIds: () => models.list().map((m) => m.id) },
          DETECTOR_KINDS,
        ),
    };
  }

  it('gives the group scores among the names rules may read, for the model and only for it', async () => {
    const p = await pilotWith(
      [
        'multivariate:',
        `  - model: ${PUMP}`,
        '    name: pumpSet',
        '    telemetry: [vibration, flow]',
        '',
      ].join('\n'),
    );
    const a = p.load();
    expect(a.anomalyPlan?.multivariate?.map((g) => g.name)).toEqual(['pumpSet']);
    const names = a.derivedNames(PUMP);
    expect(names).toEqual(
      expect.arrayContaining(['pumpSetAnomalyScore', 'vibrationAnomalyScore', 'hydraulicPower']),
    );
    expect(a.derivedNames('dtmi:twinloop:pumpline:Tank;1')).not.toContain('pumpSetAnomalyScore');
  });

  it('refuses groups that do not fit the models, every problem at its line', async () => {
    const p = await pilotWith(
      [
        'multivariate:',
        `  - model: ${PUMP}`,
        '    name: hydraulic', // fine
        '    telemetry: [flow, ghost, running]',
        `  - model: ${PUMP}`,
        '    name: vibration', // a telemetry of the model, and a stream of the plan
        '    telemetry: [vibration, flow]',
        '  - model: dtmi:twinloop:pumpline:Nope;1',
        '    name: nope',
        '    telemetry: [a, b]',
        '',
      ].join('\n'),
    );
    let error: unknown;
    try {
      p.load();
    } catch (e) {
      error = e;
    }
    expect(isTwinloopError(error) && error.code).toBe('ValidationFailed');
    const problems = isTwinloopError(error) ? (error.problems ?? []) : [];
    expect(problems.map((x) => `${x.code}@${x.line}`).sort()).toEqual(
      [
        `anomaly.plan.unknownTelemetry@${p.lineOf('[flow, ghost, running]')}`,
        `anomaly.plan.notNumeric@${p.lineOf('[flow, ghost, running]')}`,
        `anomaly.plan.nameClash@${p.lineOf('name: vibration')}`,
        `anomaly.plan.nameClash@${p.lineOf('name: vibration')}`,
        `anomaly.plan.unknownModel@${p.lineOf('Nope;1')}`,
      ].sort(),
    );
    expect(problems.every((x) => x.source === p.plan)).toBe(true);
  });
});
