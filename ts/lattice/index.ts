/**
 * The lattice on its own, without the engine, the gauntlet or the archive
 * (and so without SQLite, piscina or openai):
 *
 *   import { Lattice, kernelPath } from '@ouroboros-engine/core/lattice';
 */
export { Lattice } from './lattice.js';
export type {
  Bottleneck,
  CanaryOptions,
  CanaryReport,
  HandoffReport,
  InvariantOptions,
  ProfileReport,
  RestartOptions,
  RestartReport,
  ResumeOptions,
  RunOptions,
  RunSummary,
  Slot,
  SlotProfileReport,
  SwapResult,
} from './lattice.js';
export type { WatchdogEvent, WatchdogOptions } from './watchdog.js';
export type { LatticeOptions } from './options.js';
export type { ModuleRestore } from './handoff.js';
export { ModuleRefusedError } from '../modules/module-manager.js';
export type { KernelModuleInfo, LoadModuleOptions } from '../modules/module-manager.js';
export type { ConfinedLoadOptions, ConfinedModuleInfo, KernelHostExit, KernelHostLayer } from '../modules/kernel-host.js';
export { NodeModuleShim } from '../modules/node-module-shim.js';
export type { NodeModuleShimOptions, NodeModuleVersion } from '../modules/node-module-shim.js';
export type { NodeKernelAddon, NodeKernelDescription } from '../modules/node-kernel-addon.js';
export { NonFiniteFieldError } from '../errors.js';
export { NativeLoadError } from '../../native/loader.js';
export type { FieldArray, InvariantReport, Precision } from '../../native/addon-types.js';
export { SHIPPED_KERNELS, kernelHeaderPath, kernelIncludeDir, kernelPath, type ShippedKernel } from '../kernel-paths.js';
