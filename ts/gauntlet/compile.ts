/**
 * Gate 3: the hardened compile. g++ with stack protection, _FORTIFY_SOURCE,
 * full RELRO, a non-executable stack, warnings as errors and no start files
 * (crtbegin's frame_dummy constructor, its .init_array/.fini_array entries
 * and its .bss byte are what made a kernel module writable after load: a
 * kernel needs none of them, so the ELF gate can allow none), confined by
 * the gatekeeper (only its scratch directory writable, only the toolchain
 * and headers readable, memory, CPU and output size limited) and killed
 * after a time limit. Modules are built for the host's named -march
 * (hostMarch), so the compiler schedules for this CPU. Builds are cached by
 * the sha256 of the source, the flags (the -march with them) and the
 * compiler's version; the cache holds only the resulting .so files and is
 * evicted by size, least recently used first.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Confinement, runConfined, starved, type ToolLimits } from './gatekeeper.js';
import { busy, diskFull, isDiskFullError, reportsDiskFull } from './infrastructure.js';
import type { GateVerdict } from './types.js';
import { makeScratch } from './scratch.js';
import { privateTmpPath } from '../util/private-dir.js';

export const COMPILER = 'g++';
export const HARDENED_FLAGS = [
  '-std=c++17',
  '-O3',
  '-fPIC',
  '-shared',
  '-nostartfiles',
  '-fstack-protector-strong',
  '-D_FORTIFY_SOURCE=2',
  '-Wall',
  '-Wextra',
  '-Werror',
  // Like the reference kernel: no fused multiply-add, so the oracle's
  // operation order is the candidate's.
  '-ffp-contract=off',
  '-Wl,-z,noexecstack',
  '-Wl,-z,relro',
  '-Wl,-z,now',
];
/** The compiler's output kept in a verdict. */
const MAX_OUTPUT_CHARS = 8000;
/**
 * What g++ may use. cc1plus peaks near 300 MiB of address space on the
 * variant generator's largest kernels; `#include "/dev/zero"` took it past
 * 2 GiB before it was confined. Modules are 15-40 KiB: 32 MiB of output
 * is far above any kernel and far below a disk-filling one.
 */
export const COMPILER_LIMITS: ToolLimits = { memoryMiB: 1024, cpuSeconds: 120, fileMiB: 32 };
/** The build cache's default size cap: about 25,000 kernels. */
export const DEFAULT_CACHE_MAX_BYTES = 1 << 30;

/**
 * In the user's private directory: a module found in the cache is loaded
 * without being built again, so no other user may be able to put one there.
 */
export function defaultCacheDir(): string {
  return privateTmpPath('gauntlet-cache');
}

export interface CompileDetails {
  /** The built module (in the cache directory), when the compile succeeded. */
  modulePath: string | null;
  cached: boolean;
  key: string;
  compilerVersion: string;
  compilerOutput: string;
  flags: string[];
  /** How g++ was confined; null for a cached build. */
  confinement: Confinement | null;
}

let compilerVersion: Promise<string> | undefined;
let march: Promise<string> | undefined;

/**
 * The -march that `-march=native` resolves to, as g++ names it (e.g.
 * "znver3"), read from `g++ -march=native -Q --help=target`; "x86-64" when
 * g++ does not say. A named -march, not "native", so the fingerprint and
 * the build cache's key record which instruction sets the build assumed.
 */
export function parseMarch(helpText: string): string {
  return /^\s*-march=\s+(\S+)\s*$/m.exec(helpText)?.[1] ?? 'x86-64';
}

/** This host's named -march (see parseMarch), read once. */
export function hostMarch(): Promise<string> {
  march ??= new Promise((resolve) => {
    execFile(COMPILER, ['-march=native', '-Q', '--help=target'], { timeout: 10_000 }, (_error, stdout) => resolve(parseMarch(stdout ?? '')));
  });
  return march;
}

/** The compile gate's flags on this host: HARDENED_FLAGS and the host's -march. */
export async function buildFlags(): Promise<string[]> {
  return [...HARDENED_FLAGS, `-march=${await hostMarch()}`];
}

function version(): Promise<string> {
  compilerVersion ??= new Promise((resolve) => {
    execFile(COMPILER, ['--version'], { timeout: 10_000 }, (_error, stdout) => resolve(stdout.split('\n')[0] ?? ''));
  });
  return compilerVersion;
}

export interface CompileOptions {
  includeDir: string;
  timeoutMs: number;
  cacheDir: string;
  /** false: compile even when the cache has this build. */
  useCache: boolean;
  /** The cache is evicted, least recently used first, down to this size. */
  cacheMaxBytes?: number;
  /** Kills the compiler when it aborts; the verdict then fails with an 'interrupted' reason and caches nothing. */
  signal?: AbortSignal;
}

/** Removes the least recently used modules until the cache holds at most `maxBytes`. */
export async function evictCache(cacheDir: string, maxBytes: number): Promise<string[]> {
  const entries = await Promise.all(
    (await readdir(cacheDir))
      .filter((name) => name.endsWith('.so'))
      .map(async (name) => {
        const file = path.join(cacheDir, name);
        const info = await stat(file).catch(() => null);
        return info ? { file, bytes: info.size, usedMs: info.mtimeMs } : null;
      }),
  );
  const modules = entries.filter((entry) => entry !== null).sort((a, b) => a.usedMs - b.usedMs);
  let total = modules.reduce((sum, entry) => sum + entry.bytes, 0);
  const evicted: string[] = [];
  for (const entry of modules) {
    if (total <= maxBytes) break;
    await rm(entry.file, { force: true });
    total -= entry.bytes;
    evicted.push(entry.file);
  }
  return evicted;
}

export async function hardenedCompile(source: string, options: CompileOptions): Promise<Omit<GateVerdict<CompileDetails>, 'seconds'>> {
  const [compiler, hostFlags] = await Promise.all([version(), buildFlags()]);
  const flags = [...hostFlags, '-I', options.includeDir];
  const key = createHash('sha256').update(source).update('\0').update(flags.join(' ')).update('\0').update(compiler).digest('hex');
  const modulePath = path.join(options.cacheDir, `${key}.so`);
  const details: CompileDetails = { modulePath, cached: false, key, compilerVersion: compiler, compilerOutput: '', flags, confinement: null };
  if (options.useCache && existsSync(modulePath)) {
    // A hit is a use: the eviction keeps what was used last.
    const now = new Date();
    await utimes(modulePath, now, now).catch(() => undefined);
    return { gate: 'compile', passed: true, reason: '', details: { ...details, cached: true } };
  }
  try {
    return await compileInScratch(source, options, modulePath, details);
  } catch (error) {
    if (!isDiskFullError(error)) throw error;
    const infrastructure = diskFull('the compile', (error as Error).message);
    return { gate: 'compile', passed: false, reason: infrastructure.message, infrastructure, details: { ...details, modulePath: null } };
  }
}

/** The build itself, in a scratch directory removed afterwards; a full disk throws (hardenedCompile says so). */
async function compileInScratch(
  source: string,
  options: CompileOptions,
  modulePath: string,
  details: CompileDetails,
): Promise<Omit<GateVerdict<CompileDetails>, 'seconds'>> {
  const { flags } = details;
  await mkdir(options.cacheDir, { recursive: true, mode: 0o755 });
  const scratch = await makeScratch('compile-');
  try {
    await writeFile(path.join(scratch, 'candidate.cpp'), source);
    const result = await runConfined(COMPILER, [...flags, 'candidate.cpp', '-o', 'candidate.so'], {
      scratch,
      read: [options.includeDir],
      limits: COMPILER_LIMITS,
      timeoutMs: options.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const compilerOutput = `${result.stdout}${result.stderr}`.slice(0, MAX_OUTPUT_CHARS);
    details.confinement = result.confinement;
    if (result.aborted) {
      return {
        gate: 'compile',
        passed: false,
        reason: 'interrupted: the compile was stopped before it ended',
        details: { ...details, modulePath: null, compilerOutput },
      };
    }
    if (starved(result, options.timeoutMs)) {
      const infrastructure = busy(`the compile (compileTimeoutMs = ${options.timeoutMs})`, options.timeoutMs, result.cpuSecondsAtTimeout!);
      return { gate: 'compile', passed: false, reason: infrastructure.message, infrastructure, details: { ...details, modulePath: null, compilerOutput } };
    }
    if (result.timedOut) {
      return {
        gate: 'compile',
        passed: false,
        reason: `the compile took longer than compileTimeoutMs = ${options.timeoutMs}`,
        details: { ...details, modulePath: null, compilerOutput },
      };
    }
    if (result.code !== 0 && reportsDiskFull(compilerOutput)) {
      const infrastructure = diskFull('the compile', compilerOutput.split('\n').find((line) => reportsDiskFull(line)) ?? '');
      return { gate: 'compile', passed: false, reason: infrastructure.message, infrastructure, details: { ...details, modulePath: null, compilerOutput } };
    }
    if (result.code !== 0) {
      const firstError = compilerOutput.split('\n').find((line) => /error/.test(line)) ?? `${COMPILER} exited with ${result.code ?? result.signal}`;
      return { gate: 'compile', passed: false, reason: `does not compile: ${firstError.trim()}`, details: { ...details, modulePath: null, compilerOutput } };
    }
    // Copy, then rename into the cache: concurrent builds of one key never
    // see half a file, whichever filesystem the cache is on.
    const staged = `${modulePath}.${process.pid}.${path.basename(scratch)}.partial`;
    await copyFile(path.join(scratch, 'candidate.so'), staged);
    await chmod(staged, 0o644);
    await rename(staged, modulePath);
    await evictCache(options.cacheDir, options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES);
    return { gate: 'compile', passed: true, reason: '', details: { ...details, compilerOutput } };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
