/**
 * Rules (issue 10): the workspace's RuleService over the rule store, the pilot's rule files put on
 * the first start (like its models; later starts keep what the API changed), and the HTTP routes
 * with backtests. Whoever evaluates rules live subscribes with `onChange` (RuleEngine.setRules).
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { Storage } from '../../core/ports/storage.js';
import { BacktestJobs } from '../../analytics/rules/backtest-jobs.js';
import { ruleModelSchema } from '../../analytics/rules/rule-context.js';
import { graphTwinContext } from '../../analytics/runtime/graph-twin-context.js';
import { RuleService } from '../../analytics/rules/rule-service.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import { ruleRoutesPlugin } from '../../adapters/http/http-rule-routes.js';
import { readPilotRules } from '../pilot-files.js';

export interface RulesSubsystem {
  service: RuleService;
  plugin: ReturnType<typeof ruleRoutesPlugin>;
}

export async function startRules(o: {
  workspace: string;
  storage: Pick<Storage, 'rules' | 'history'>;
  models: ModelService;
  graph: InMemoryTwinGraph;
  logger: Logger;
  /** The pilot whose rules/ folder to load ('none': no files). */
  pilot: string;
  /** True on the first start of the data folder (the pilot was just seeded). */
  firstRun: boolean;
  onChange?: (rules: VersionedRule[]) => void;
  /** Telemetry the platform derives for twins of a model (rules may read it): PilotAnalytics.derivedNames. */
  derivedNames: (modelId: string) => Iterable<string>;
}): Promise<RulesSubsystem> {
  const context = graphTwinContext({
    graphOf: (ws) => (ws === o.workspace ? o.graph : undefined),
    isOfModel: (_ws, m, b) => o.models.matchesModel(m, b),
  });
  const service = new RuleService({
    workspace: o.workspace,
    store: o.storage.rules,
    schema: (modelId) => ruleModelSchema(o.models, modelId, o.derivedNames),
    ...(o.onChange ? { onChange: o.onChange } : {}),
  });
  if (o.firstRun && o.pilot !== 'none') {
    const files = readPilotRules(o.pilot);
    if (files.length) {
      const n = await service.loadFiles(files);
      o.logger.info({ pilot: o.pilot, rules: n }, 'pilot rules loaded');
    }
  }
  const plugin = ruleRoutesPlugin({
    rules: service,
    backtests: new BacktestJobs(),
    history: o.storage.history,
    context,
    modelOf: (id) => o.graph.getTwin(id)?.modelId,
    twinsOfModel: (modelId) =>
      o.models.has(modelId)
        ? [...o.graph.twinsOfModel(modelId, false)].map((t) => ({ id: t.id, modelId: t.modelId }))
        : undefined,
  });
  return { service, plugin };
}
