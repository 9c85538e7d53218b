/**
 * What a `.node` kernel addon exports to JavaScript. The same shared object
 * also exports `ouro_kernel_entry` (cpp/include/ouroboros/kernel_abi.h), so
 * the core can load its kernel into a lattice's slots.
 */
import { describe } from '../errors.js';
import { coreAddon } from '../../native/loader.js';

export interface NodeKernelDescription {
  /** The name in its kernel table, the one a lattice reports once it is live. */
  name: string;
  abiVersion: number;
  /** The addon's own version string. */
  version: string;
}

/** The JS side every `.node` kernel addon has; an addon may export more. */
export interface NodeKernelAddon {
  describe(): NodeKernelDescription;
}

/** Why `exports` is not a `.node` kernel addon this core can use, or null. */
export function nodeKernelDefect(exports: unknown): string | null {
  if (exports === null || typeof exports !== 'object') return `its exports are ${describe(exports)}, not an object`;
  const describeFn = (exports as Record<string, unknown>).describe;
  if (typeof describeFn !== 'function') return 'it exports no describe() function';
  const description: unknown = describeFn.call(exports);
  if (description === null || typeof description !== 'object') {
    return `describe() returned ${describe(description)}, not { name, abiVersion, version }`;
  }
  const { name, abiVersion, version } = description as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return `describe().name = ${describe(name)}: must be a non-empty string`;
  if (typeof version !== 'string' || version === '') {
    return `describe().version = ${describe(version)}: must be a non-empty string`;
  }
  const coreAbiVersion = coreAddon().kernelAbiVersion;
  if (abiVersion !== coreAbiVersion) {
    return `describe().abiVersion = ${describe(abiVersion)}, but this core speaks kernel ABI version ${coreAbiVersion}`;
  }
  return null;
}
