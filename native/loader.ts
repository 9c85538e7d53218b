/**
 * Finds and loads the native pieces built for this target.
 *
 * Addons are named `<name>.<target>.node` (napi-rs style, e.g.
 * `ouroboros_core.linux-x64-gnu.node`); kernel modules live in
 * `native/kernels/<target>/`. `OUROBOROS_NATIVE_DIR` puts one more directory
 * in front of the search. When nothing loads, one error lists every path tried
 * and why each failed.
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

export function nativeDirectories(): string[] {
  const dirs = [path.join(packageRoot, 'native')];
  const override = process.env.OUROBOROS_NATIVE_DIR;
  if (override) dirs.unshift(path.resolve(override));
  return dirs;
}

export class NativeLoadError extends Error {
  constructor(
    readonly addon: string,
    readonly attempts: ReadonlyArray<{ path: string; reason: string }>,
  ) {
    const lines = attempts.map((a) => `  - ${a.path}: ${a.reason}`);
    super(
      `could not load the native addon "${addon}" for ${targetTriple()}; tried:\n${lines.join('\n')}\n` +
        'Run `npm run build` to build it from source.',
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

/** Path of a kernel module built for this target, e.g. `kernelModulePath('reference')`. */
export function kernelModulePath(name: string): string {
  const attempts: { path: string; reason: string }[] = [];
  for (const dir of nativeDirectories()) {
    const file = path.join(dir, 'kernels', targetTriple(), `${name}.so`);
    if (existsSync(file)) return file;
    attempts.push({ path: file, reason: 'not found' });
  }
  throw new NativeLoadError(`kernel ${name}`, attempts);
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
