/**
 * Ouroboros: a native wave-physics core on an N-dimensional torus.
 *
 *   import { Lattice, nonary } from 'ouroboros';
 */
export { Lattice } from './lattice/lattice.js';
export type {
  Bottleneck,
  CanaryOptions,
  CanaryReport,
  InvariantOptions,
  ProfileReport,
  RunOptions,
  RunSummary,
  Slot,
  SlotProfileReport,
  SwapResult,
} from './lattice/lattice.js';
export type { WatchdogEvent, WatchdogOptions } from './lattice/watchdog.js';
export { ModuleRefusedError } from './modules/module-manager.js';
export type { KernelModuleInfo, LoadModuleOptions } from './modules/module-manager.js';
export type { ConfinedLoadOptions, ConfinedModuleInfo, KernelHostExit, KernelHostLayer } from './modules/kernel-host.js';
export { NodeModuleShim } from './modules/node-module-shim.js';
export type { NodeModuleShimOptions, NodeModuleVersion } from './modules/node-module-shim.js';
export type { NodeKernelAddon, NodeKernelDescription } from './modules/node-kernel-addon.js';
export type { LatticeOptions } from './lattice/options.js';
export type { HandoffReport, RestartOptions, RestartReport, ResumeOptions } from './lattice/lattice.js';
export type { ModuleRestore } from './lattice/handoff.js';
export { NonFiniteFieldError } from './errors.js';
export { NativeLoadError } from '../native/loader.js';
export type { FieldArray, InvariantReport, Precision } from '../native/addon-types.js';
export * as nonary from './nonary/index.js';
export { evaluateCandidate, GauntletPool } from './gauntlet/index.js';
export type { CandidateOptions, GateVerdict, GauntletVerdict } from './gauntlet/index.js';
export * as engine from './engine/index.js';
export { Engine } from './engine/index.js';
export type { EngineSummary } from './engine/index.js';
export { Archive, Ledger, machineFingerprint } from './archive/index.js';
export type { AttemptRecord, AttemptStatus, LedgerEntry, LedgerVerification } from './archive/index.js';
export { VariantGenerator, RandomSearchGenerator, renderKernel, defaultGenome, validateGenome } from './generators/variant/index.js';
export { LlmGenerator } from './generators/llm/index.js';
export type { LlmGeneratorOptions } from './generators/llm/index.js';
export type { CandidateProposal, GenerationContext, Generator } from './generators/types.js';
export { GeneratorError } from './generators/types.js';
