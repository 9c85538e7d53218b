/**
 * Where the shipped kernel modules and the kernel ABI header are, for users
 * who hot-swap a shipped kernel or write their own: paths inside the installed
 * package are not reachable through `exports`, so these are the public way in.
 */
import path from 'node:path';
import { kernelModulePath, packageRoot } from '../native/loader.js';
import { invalidRangeError } from './errors.js';

/** The step kernels built with the core; `reference` is the one a lattice starts with. */
export const SHIPPED_KERNELS = ['reference', 'reference_twin', 'rows', 'rows_twin'] as const;
export type ShippedKernel = (typeof SHIPPED_KERNELS)[number];

/**
 * Absolute path of a shipped kernel module built for this platform, for
 * `lattice.loadModule(kernelPath('rows'))`. Throws NativeLoadError, listing
 * every place it looked, when no build for this platform is installed.
 */
export function kernelPath(name: ShippedKernel): string {
  if (!(SHIPPED_KERNELS as readonly unknown[]).includes(name)) {
    throw invalidRangeError('name', `must be one of ${SHIPPED_KERNELS.join(', ')}`, name);
  }
  return kernelModulePath(name);
}

/** Folder to pass as `-I` when compiling a kernel: it holds `ouroboros/kernel_abi.h`. */
export function kernelIncludeDir(): string {
  return path.join(packageRoot, 'cpp', 'include');
}

/** Absolute path of `ouroboros/kernel_abi.h`, the C ABI every kernel module implements. */
export function kernelHeaderPath(): string {
  return path.join(kernelIncludeDir(), 'ouroboros', 'kernel_abi.h');
}
