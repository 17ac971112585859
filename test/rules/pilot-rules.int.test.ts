/**
 * The rules shipped with the pilots read and check against the pilots' own models (every name they
 * use is a telemetry or property of the model they apply to, or a value the pilot derives for it:
 * its derived values and anomaly scores).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ruleModelSchema } from '../../src/analytics/rules/rule-context.js';
import { RuleService } from '../../src/analytics/rules/rule-service.js';
import { readPilotRules } from '../../src/app/pilot-files.js';
import { loadPilot } from '../../src/app/pilot-loader.js';
import { loadPilotAnalytics } from '../../src/app/pilot-analytics.js';
import { DETECTOR_KINDS } from '../../src/analytics/anomaly/detector.js';
import { openTestWorkspace, type TestWorkspace } from '../adt-sdk/workspace-fixture.js';

describe('pilot rules', () => {
  let w: TestWorkspace | undefined;
  afterEach(async () => {
    await w?.close();
  });

  for (const [pilot, expected] of [
    ['pump-line', 7],
    ['ev-fleet', 7],
  ] as const) {
    it(`${pilot}: every rule file is valid against the pilot's models`, async () => {
      w = await openTestWorkspace();
      await loadPilot(pilot, { models: w.models, twins: w.twins });
      const models = w.models;
      const { derivedNames } = loadPilotAnalytics(
        pilot,
        { models, twinModel: () => undefined, modelIds: () => models.list().map((m) => m.id) },
        DETECTOR_KINDS,
      );
      const service = new RuleService({
        workspace: 'default',
        store: w.storage.rules,
        schema: (id) => ruleModelSchema(models, id, derivedNames),
      });
      const files = readPilotRules(pilot);
      expect(files).toHaveLength(expected);
      expect(await service.loadFiles(files)).toBe(expected);
      const enabled = await service.enabled();
      expect(enabled).toHaveLength(expected);
      // Loading the same files again changes no version.
      await service.loadFiles(files);
      expect((await service.list()).every((r) => r.version === 1)).toBe(true);
    });
  }
});
