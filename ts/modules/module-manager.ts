/**
 * Loading kernel modules for hot swap. A module goes through, in order:
 *
 *   1. the ELF header check (native, reads the header only): a shared object of this architecture;
 *   2. a copy to a content-addressed path, `<cacheDir>/<sha256>.so`: dlopen caches by path, so
 *      new code must come from a new path, and the same bytes always share one;
 *   3. the probe in a child process (ffi-rs): constructors, entry symbol, ABI version, table,
 *      then the self-test against the Rust oracle on a tiny lattice;
 *   4. the core's own dlopen and table validation.
 *
 * Any failure is a ModuleRefusedError naming the file and the reason; nothing
 * live is touched until the module has passed all four.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import type { CoreModuleInfo } from '../../native/addon-types.js';
import { coreAddon } from '../../native/loader.js';
import { privateTmpPath } from '../util/private-dir.js';
import { fileSha256, sha256Hex } from '../util/sha256.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probeModule } from './probe.js';
import type { SelfTestShape } from './self-test.js';

/** A module that passed every check, as a lattice knows it. */
export interface KernelModuleInfo extends CoreModuleInfo {
  /** The file the caller named. */
  source: string;
  sha256: string;
  /** Wall time of the whole load (copy, probe, self-test, dlopen), in ms. */
  loadMs: number;
}

export interface LoadModuleOptions {
  /** How long the probe child may take (default 10000 ms). */
  probeTimeoutMs?: number;
  /** Where content-addressed copies go (default $OUROBOROS_MODULE_CACHE or <tmpdir>/ouroboros-<uid>/modules, private to the user). */
  cacheDir?: string;
}

/** A kernel module that failed a check; the live kernel is untouched. */
export class ModuleRefusedError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot load kernel module ${file}: ${reason}`);
    this.name = 'ModuleRefusedError';
  }
}

export function defaultModuleCacheDir(): string {
  return process.env.OUROBOROS_MODULE_CACHE ?? privateTmpPath('modules');
}

/** Copies `file` to `<cacheDir>/<sha256>.so` (once) and returns that path and the hash. */
export function contentAddressedCopy(file: string, cacheDir: string): { cachedPath: string; sha256: string } {
  const bytes = readFileSync(file);
  const sha256 = sha256Hex(bytes);
  const cachedPath = path.join(cacheDir, `${sha256}.so`);
  // A copy already there is used only if it still hashes to its name.
  if (!existsSync(cachedPath) || fileSha256(cachedPath) !== sha256) {
    mkdirSync(cacheDir, { recursive: true });
    // The bytes that were hashed, not the file again (it may have changed since);
    // written then renamed, so that no reader ever sees a half-written file.
    const partial = `${cachedPath}.${process.pid}.partial`;
    writeFileSync(partial, bytes);
    renameSync(partial, cachedPath);
  }
  return { cachedPath, sha256 };
}

/**
 * The checks any module file passes before it is copied or probed: it exists,
 * is a regular file, and its ELF header is a shared object for this machine
 * (read natively, without mapping it). Returns the absolute path.
 */
export function checkModuleFile(file: string): string {
  const source = path.resolve(file);
  let isFile: boolean;
  try {
    isFile = statSync(source).isFile();
  } catch {
    throw new ModuleRefusedError(source, 'no such file');
  }
  if (!isFile) throw new ModuleRefusedError(source, 'not a regular file');
  const elfDefect = coreAddon().elfDefect(source);
  if (elfDefect !== null) throw new ModuleRefusedError(source, elfDefect);
  return source;
}

/** Runs every check on `file` and loads it into the core; throws ModuleRefusedError. */
export async function loadKernelModule(file: string, shape: SelfTestShape, options: LoadModuleOptions = {}): Promise<KernelModuleInfo> {
  const started = performance.now();
  const source = checkModuleFile(file);
  const core = coreAddon();

  const { cachedPath, sha256 } = contentAddressedCopy(source, options.cacheDir ?? defaultModuleCacheDir());
  const probeDefect = await probeModule(cachedPath, shape, options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  if (probeDefect !== null) throw new ModuleRefusedError(source, probeDefect);

  const loaded = core.loadKernelModule(cachedPath);
  if ('refused' in loaded) throw new ModuleRefusedError(source, loaded.refused.reason);
  return { ...loaded, source, sha256, loadMs: performance.now() - started };
}
