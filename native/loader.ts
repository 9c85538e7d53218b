/**
 * Finds and loads the native pieces built for this target.
 *
 * Addons are named `<name>.<target>.node` (napi-rs style, e.g.
 * `ouroboros_core.linux-x64-gnu.node`); kernel modules live in
 * `kernels/<target>/`, the sandbox runner in `sandbox/<target>/`, the kernel
 * host in `kernel-host/<target>/`, all under one native directory. The search
 * order is `OUROBOROS_NATIVE_DIR` when set, then the per-target package
 * `@ouroboros-engine/core-<target>` (the prebuilt binaries npm installs as an
 * optional dependency), then `native/` of a local build. When nothing loads,
 * one error lists every path tried and why each failed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type { CoreAddon, OracleAddon, SegmentAddon } from './addon-types.js';

const require = createRequire(import.meta.url);

/** The package root: this file runs from `<root>/dist/native/`. */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The napi-rs name of this platform, e.g. "linux-x64-gnu". */
let cachedTriple: string | undefined;

export function targetTriple(): string {
  // process.report.getReport() costs ~13 ms and the answer cannot change.
  cachedTriple ??= detectTargetTriple();
  return cachedTriple;
}

function detectTargetTriple(): string {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return `${platform}-${arch}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

/** The npm name of the package holding this target's prebuilt binaries. */
export function targetPackageName(triple = targetTriple()): string {
  return `@ouroboros-engine/core-${triple}`;
}

/**
 * The folder of the installed per-target package, or undefined. It is resolved
 * from this package, so npm's hoisting (next to us or in our own
 * node_modules) does not matter.
 */
function targetPackageDirectory(): string | undefined {
  try {
    return path.dirname(require.resolve(`${targetPackageName()}/package.json`));
  } catch {
    return undefined;
  }
}

let cachedDirectories: string[] | undefined;

/** Where native files are looked for, best first (see the file comment). */
export function nativeDirectories(): string[] {
  cachedDirectories ??= [targetPackageDirectory(), path.join(packageRoot, 'native')].filter((dir) => dir !== undefined);
  const override = process.env.OUROBOROS_NATIVE_DIR;
  return override ? [path.resolve(override), ...cachedDirectories] : cachedDirectories;
}

/** Says so when the per-target package is missing: the usual reason nothing loads in a consumer. */
function targetPackageNote(): string {
  const installed = targetPackageDirectory();
  return installed ? '' : ` (the package ${targetPackageName()} is not installed)`;
}

export class NativeLoadError extends Error {
  constructor(
    readonly addon: string,
    readonly attempts: ReadonlyArray<{ path: string; reason: string }>,
  ) {
    const lines = attempts.map((a) => `  - ${a.path}: ${a.reason}`);
    super(
      `could not load the native addon "${addon}" for ${targetTriple()}; tried:\n${lines.join('\n')}\n` +
        `Install the prebuilt binaries${targetPackageNote()}, or build them from source with \`npm run build\` in a clone.`,
    );
    this.name = 'NativeLoadError';
  }
}

/** Loads `<name>.<target>.node` from the first native directory that has a working one. */
export function loadAddon<T>(name: string, directories = nativeDirectories()): T {
  const attempts: { path: string; reason: string }[] = [];
  for (const dir of directories) {
    const file = path.join(dir, `${name}.${targetTriple()}.node`);
    if (!existsSync(file)) {
      attempts.push({ path: file, reason: 'not found' });
      continue;
    }
    try {
      return require(file) as T;
    } catch (error) {
      attempts.push({ path: file, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new NativeLoadError(name, attempts);
}

/**
 * The first `<native directory>/<folder>/<target>/<file>` that exists: a
 * staged binary or kernel module; `what` names it in the error.
 */
export function stagedNativePath(folder: string, file: string, what = file): string {
  const attempts: { path: string; reason: string }[] = [];
  for (const dir of nativeDirectories()) {
    const candidate = path.join(dir, folder, targetTriple(), file);
    if (existsSync(candidate)) return candidate;
    attempts.push({ path: candidate, reason: 'not found' });
  }
  throw new NativeLoadError(what, attempts);
}

/** Path of a kernel module built for this target, e.g. `kernelModulePath('reference')`. */
export function kernelModulePath(name: string): string {
  return stagedNativePath('kernels', `${name}.so`, `kernel ${name}`);
}

let core: CoreAddon | undefined;
let oracle: OracleAddon | undefined;
let segment: SegmentAddon | undefined;

export function coreAddon(): CoreAddon {
  core ??= loadAddon<CoreAddon>('ouroboros_core');
  return core;
}

export function oracleAddon(): OracleAddon {
  oracle ??= loadAddon<OracleAddon>('ouroboros_oracle');
  return oracle;
}

export function segmentAddon(): SegmentAddon {
  segment ??= loadAddon<SegmentAddon>('ouroboros_segment');
  return segment;
}
