/** Behaviour models: a declarative YAML/JSON format attaching simulation behaviour to a DTDL interface. */
export { compileBehaviour, validateBehaviour } from './compile-behaviour.js';
export { gaussian, seededRandom } from './random.js';
export type {
  BehaviourLayout,
  BehaviourOptions,
  BehaviourRuntime,
  CompiledBehaviour,
  Measurement,
} from './compile-behaviour.js';
export type {
  BehaviourSpec,
  ExprSource,
  FaultKind,
  FaultSpec,
  InputSource,
  InputSpec,
  MappingSpec,
  NoiseSpec,
  OutputSpec,
  ParameterSpec,
  StateSpec,
} from './behaviour-types.js';
export { encodingOf, TIME_NAME } from './check-behaviour.js';
export { aggregate, cycleAt, scheduleAt } from './input-signals.js';
export { BehaviourCatalog } from './behaviour-catalog.js';
export type { CatalogEntry, CatalogModels } from './behaviour-catalog.js';
export { idealTelemetry } from './ideal-telemetry.js';
export type { IdealProbe, IdealTelemetry } from './ideal-telemetry.js';
export { installBehaviourPlugin } from './behaviour-plugin.js';
export type { BehaviourPlugin, BehaviourPluginFunction } from './behaviour-plugin.js';
