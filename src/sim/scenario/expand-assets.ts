/**
 * The twins and relationships a scenario's asset groups generate (ADT JSON, like twins.json), and how
 * `--assets N` sizes them: N twins in all, shared among the groups in proportion to their counts.
 */
import { errors, TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import { assetTwinId, fillValue } from './asset-pattern.js';
import type { ScenarioAssetGroup, ScenarioSpec } from './scenario-types.js';

export interface ExpandedAssets {
  twins: Record<string, unknown>[];
  relationships: Record<string, unknown>[];
}

/**
 * How many twins each group generates: its `count`, or with `total` that many in all, shared in
 * proportion to the counts (largest remainder; ties to the earlier group), evenly when all are 0.
 * @throws TwinloopError BadRequest when total is not a whole number ≥ 0.
 */
export function assetCounts(groups: readonly Pick<ScenarioAssetGroup, 'count'>[], total?: number): number[] {
  if (total === undefined) return groups.map((g) => g.count);
  if (!Number.isInteger(total) || total < 0)
    throw new TwinloopError(
      'BadRequest',
      `The number of assets must be a whole number ≥ 0, got ${String(total)}.`,
    );
  if (groups.length === 0) return [];
  const sum = groups.reduce((s, g) => s + g.count, 0);
  const weights = groups.map((g) => (sum === 0 ? 1 : g.count));
  const wsum = sum === 0 ? groups.length : sum;
  const quotas = weights.map((w) => (total * w) / wsum);
  const counts = quotas.map(Math.floor);
  let left = total - counts.reduce((s, c) => s + c, 0);
  const order = quotas
    .map((q, i) => ({ i, frac: q - Math.floor(q) }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    left--;
  }
  return counts;
}

function expandGroups(
  groups: readonly ScenarioAssetGroup[],
  counts: readonly number[],
  source: string | undefined,
): ExpandedAssets {
  const twins: Record<string, unknown>[] = [];
  const relationships: Record<string, unknown>[] = [];
  const made = new Map<string, ScenarioAssetGroup>();
  const problems: Problem[] = [];
  const relIds = new Set<string>();
  /** A relationship id unique for its source twin (ADT requires it). */
  const relId = (sourceId: string, base: string): string => {
    let id = base;
    for (let k = 2; relIds.has(`${sourceId}\u0000${id}`); k++) id = `${base}-${k}`;
    relIds.add(`${sourceId}\u0000${id}`);
    return id;
  };
  groups.forEach((g, gi) => {
    const count = counts[gi] ?? 0;
    for (let index = 1; index <= count; index++) {
      const id = assetTwinId(g.id, index);
      const other = made.get(id);
      if (other) {
        problems.push({
          code: 'sim.scenario.duplicateId',
          message: `Twin id '${id}' is generated twice (by the groups at lines ${other.loc.line} and ${g.loc.line}).`,
          pointer: g.loc.pointer,
          line: g.loc.line,
          column: g.loc.column,
          ...(source === undefined ? {} : { source }),
        });
        break;
      }
      made.set(id, g);
      twins.push({
        $dtId: id,
        $metadata: { $model: g.model },
        ...(fillValue(g.properties, index) as Record<string, unknown>),
      });
      for (const rel of g.relationships) {
        const target = assetTwinId(rel.targets[(index - 1) % rel.targets.length] as string, index);
        relationships.push({
          $sourceId: id,
          $relationshipId: relId(id, `${rel.name}-${target}`),
          $relationshipName: rel.name,
          $targetId: target,
          ...(fillValue(rel.properties, index) as Record<string, unknown>),
        });
      }
      for (const inc of g.incoming) {
        const from = assetTwinId(inc.sources[(index - 1) % inc.sources.length] as string, index);
        relationships.push({
          $sourceId: from,
          $relationshipId: relId(from, `${inc.name}-${id}`),
          $relationshipName: inc.name,
          $targetId: id,
          ...(fillValue(inc.properties, index) as Record<string, unknown>),
        });
      }
    }
  });
  if (problems.length)
    throw errors.validation('ValidationFailed', 'The scenario generates the same twin id twice.', problems);
  return { twins, relationships };
}

/**
 * The twins and relationships a scenario generates, in group order; `overrideCount` (--assets N)
 * makes it N twins in all (see assetCounts).
 * @throws TwinloopError BadRequest (a bad count, or a count for a scenario without assets),
 *   ValidationFailed (two groups generating the same id).
 * @example
 *   const { twins, relationships } = expandScenarioAssets(scenario, 1000); // 1,000 cars
 */
export function expandScenarioAssets(spec: ScenarioSpec, overrideCount?: number): ExpandedAssets {
  if (overrideCount !== undefined && spec.assets.length === 0)
    throw new TwinloopError(
      'BadRequest',
      `Scenario '${spec.scenario}' generates no assets (it has no 'assets:'), so a number of assets cannot size it.`,
    );
  return expandGroups(spec.assets, assetCounts(spec.assets, overrideCount), spec.source);
}

/**
 * @deprecated One asset group alone (from when a scenario had at most one): `overrideCount` is its count.
 * Use expandScenarioAssets.
 */
export function expandScenarioFleet(fleet: ScenarioAssetGroup, overrideCount?: number): ExpandedAssets {
  return expandGroups([fleet], assetCounts([fleet], overrideCount), undefined);
}
