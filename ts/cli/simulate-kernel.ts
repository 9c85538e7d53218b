/**
 * The user's kernel files in `ouroboros simulate` (`--kernel`, and
 * `--modules` with `--swap-every`) are untrusted: a `.so` runs confined in a
 * kernel host (lat.loadConfinedModule), as `ouroboros swap` does. A `.node`
 * addon is Node code, which no kernel host can run: it is refused unless the
 * user says they trust it (`--trust-native-addon`), and is then loaded in
 * this process.
 */
import { type Lattice, SLOTS } from '../lattice/lattice.js';
import { ModuleRefusedError } from '../modules/module-manager.js';

/** A `.node` file is a Node addon: Node code, which no kernel host can run. */
export function isNativeAddon(file: string): boolean {
  return file.endsWith('.node');
}

/** Why the user's `file` cannot be loaded, or null. */
export function userModuleRefusal(file: string, trustNativeAddon: boolean): string | null {
  if (!isNativeAddon(file) || trustNativeAddon) return null;
  return (
    'a .node addon is Node code and cannot run confined in a kernel host; pass --trust-native-addon ' + 'only if you trust it to run unconfined in this process'
  );
}

/** Loads the user's `file` the way its trust allows: confined, or (a trusted addon) in this process. */
export function loadUserModule(lattice: Lattice, file: string, trustNativeAddon: boolean): Promise<number> {
  const refusal = userModuleRefusal(file, trustNativeAddon);
  if (refusal !== null) return Promise.reject(new ModuleRefusedError(file, refusal));
  return isNativeAddon(file) ? lattice.loadModule(file) : lattice.loadConfinedModule(file);
}

/**
 * Makes the user's kernel live in every slot of a lattice that is not
 * running (each swap applies at once); the lattice's own first kernel stays
 * the slots' last-known-good. The lattice must have `sharedState: true`.
 */
export async function useUserKernel(lattice: Lattice, file: string, trustNativeAddon: boolean): Promise<void> {
  const id = await loadUserModule(lattice, file, trustNativeAddon);
  for (const slot of SLOTS) await lattice.swap(slot, id);
}
