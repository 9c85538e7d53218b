/**
 * Loading a kernel module for a lattice's slots: in-process (ELF check,
 * probe child, self-test, core load: ts/modules/module-manager.ts) or
 * confined in a kernel host (ts/modules/kernel-host.ts). Both are imported on
 * first use, not with the lattice: a restarted process reaches its first
 * step sooner.
 */
import { invalidTypeError, requireInteger } from '../errors.js';
import type { ConfinedLoadOptions, ConfinedModuleInfo, HostedLattice, KernelHost } from '../modules/kernel-host.js';
import type { KernelModuleInfo, LoadModuleOptions } from '../modules/module-manager.js';
import type { SelfTestShape } from '../modules/self-test.js';

/** A confined module and the kernel host it runs in. */
export interface HostedModule {
  host: KernelHost;
  info: ConfinedModuleInfo;
}

function checkModulePath(file: unknown): asserts file is string {
  if (typeof file !== 'string' || file === '') throw invalidTypeError('path', 'the path of a kernel module (.so)', file);
}

/** Validates and loads a module to run in this process; self-tested on a tiny lattice of `shape`. */
export async function loadInProcess(file: string, options: LoadModuleOptions, shape: SelfTestShape): Promise<KernelModuleInfo> {
  checkModulePath(file);
  if (options.probeTimeoutMs !== undefined) requireInteger('probeTimeoutMs', options.probeTimeoutMs, 1, 600_000);
  const { loadKernelModule } = await import('../modules/module-manager.js');
  return loadKernelModule(file, shape, options);
}

/**
 * Starts a kernel host for the module at `file`, or returns the live host
 * already running the same bytes from `hosts`. `lattice` is asked for once
 * the arguments are checked (it throws for a lattice without a shared segment).
 */
export async function loadConfined(
  file: string,
  options: ConfinedLoadOptions,
  lattice: () => HostedLattice,
  hosts: ReadonlyMap<number, HostedModule>,
): Promise<HostedModule> {
  checkModulePath(file);
  if (options.readyTimeoutMs !== undefined) requireInteger('readyTimeoutMs', options.readyTimeoutMs, 1, 600_000);
  if (options.stepTimeoutMs !== undefined) requireInteger('stepTimeoutMs', options.stepTimeoutMs, 1, 3_600_000);
  const target = lattice();
  const { stageModule, startKernelHost } = await import('../modules/kernel-host.js');
  const staged = stageModule(file, options.cacheDir);
  for (const hosted of hosts.values()) {
    if (hosted.info.sha256 === staged.sha256 && hosted.host.exit === null) return hosted;
  }
  return startKernelHost(staged, target, options);
}
