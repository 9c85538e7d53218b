/**
 * The improvement engine: `new Engine(lattice, config)`, its configuration
 * (ouroboros.toml), events and the pieces it is made of.
 */
export { Engine, type AttemptRequest, type EngineDeps, type EngineSummary } from './engine.js';
export type { LiveModuleSummary } from './summary.js';
export type { AttemptPhase, AttemptStatusReport, BudgetReport, EngineEvents, EngineSample, WarmStartReport } from './events.js';
export {
  CONFIG_SCHEMA,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  GENERATOR_KINDS,
  defaultConfig,
  loadConfig,
  parseDurationMs,
  resolveConfig,
  tomlDefault,
  type ConfigKey,
  type EngineConfig,
  type GeneratorKind,
  type KeyType,
} from './config.js';
export { createMainLattice } from './main-lattice.js';
export { generatorFromConfig, type ConfiguredGenerator } from './generator-factory.js';
export { LAMBDA, eligibleParents, selectParent, selectionProbabilities, type ParentCandidate, type ParentProbability } from './parent-selection.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitOpen } from './circuit-breaker.js';
export { SKIPPED_BY_PREDICTOR } from './attempt-runner.js';
export { judgeThroughput, measureSlot, mlupsOf, type ThroughputWindow, type WatchVerdict } from './watch.js';
export { createEngineLog, logEngineEvents, type EngineLogger, type EngineLogOptions } from './log.js';
export { StrategyMemory } from './strategy-memory.js';
export { Predictor } from './predictor.js';
export { sourceFeatures } from './candidate-features.js';
