/**
 * The behaviour models of a workspace, by the DTDL interface they simulate: the one place the device
 * simulator, what-if runs, shadow mode and calibration look up "which model behaves like this twin".
 * A twin gets the behaviour of its own model, else of the nearest model it extends.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { CompiledBehaviour } from './compile-behaviour.js';

export interface CatalogEntry {
  /** Where the behaviour came from (a file path), for messages. */
  source: string;
  /** The DTMI of the interface it simulates (the behaviour's `interface:`). */
  interfaceId: string;
  model: CompiledBehaviour;
}

export interface CatalogModels {
  /** True when `modelId` is `baseId` or extends it (directly or not). */
  isOfModel(modelId: string, baseId: string): boolean;
}

export class BehaviourCatalog {
  private readonly byInterface = new Map<string, CatalogEntry>();
  private readonly byName = new Map<string, CatalogEntry>();

  /** @throws TwinloopError Conflict when two behaviours simulate the same interface or share a name. */
  constructor(
    entries: readonly CatalogEntry[],
    private readonly models: CatalogModels,
  ) {
    for (const e of entries) {
      const same = this.byInterface.get(e.interfaceId);
      if (same)
        throw new TwinloopError(
          'Conflict',
          `Two behaviour models simulate ${e.interfaceId}: ${same.source} and ${e.source}.`,
        );
      const name = e.model.spec.behaviour;
      const sameName = this.byName.get(name);
      if (sameName)
        throw new TwinloopError(
          'Conflict',
          `Two behaviour models are named '${name}': ${sameName.source} and ${e.source}.`,
        );
      this.byInterface.set(e.interfaceId, e);
      this.byName.set(name, e);
    }
  }

  /** Every behaviour, in the order given. */
  /** True when `modelId` is `baseId` or extends it (the workspace's models). */
  isOfModel(modelId: string, baseId: string): boolean {
    return this.models.isOfModel(modelId, baseId);
  }

  list(): CatalogEntry[] {
    return [...this.byInterface.values()];
  }

  get size(): number {
    return this.byInterface.size;
  }

  /** By behaviour name (`behaviour:` in the file). */
  byBehaviourName(name: string): CatalogEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The behaviour of a twin of model `modelId`: its own interface's, else the one of the most
   * specific interface it extends (one that extends none of the other candidates' interfaces).
   */
  forModel(modelId: string): CatalogEntry | undefined {
    const exact = this.byInterface.get(modelId);
    if (exact) return exact;
    const candidates = [...this.byInterface.values()].filter((e) =>
      this.models.isOfModel(modelId, e.interfaceId),
    );
    if (candidates.length <= 1) return candidates[0];
    return candidates.find((c) =>
      candidates.every((o) => o === c || !this.models.isOfModel(o.interfaceId, c.interfaceId)),
    );
  }
}
