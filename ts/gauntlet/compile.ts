/**
 * Gate 3: the hardened compile. g++ with stack protection, _FORTIFY_SOURCE,
 * full RELRO, a non-executable stack and warnings as errors, in a scratch
 * directory, killed after a time limit. Builds are cached by the sha256 of
 * the source, the flags and the compiler's version; the cache holds only
 * the resulting .so files.
 */
import { execFile } from 'node:child_process';
import { inBackground } from './background.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { GateVerdict } from './types.js';

export const COMPILER = 'g++';
export const HARDENED_FLAGS = [
  '-std=c++17',
  '-O3',
  '-fPIC',
  '-shared',
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

export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'ouroboros-gauntlet-cache');
}

export interface CompileDetails {
  /** The built module (in the cache directory), when the compile succeeded. */
  modulePath: string | null;
  cached: boolean;
  key: string;
  compilerVersion: string;
  compilerOutput: string;
  flags: string[];
}

interface Exec {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

function exec(command: string, args: string[], options: { cwd?: string; timeoutMs: number }): Promise<Exec> {
  return new Promise((resolve) => {
    const child = inBackground(execFile(command, args, { cwd: options.cwd, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { killed?: boolean }) | null;
      resolve({
        code: child.exitCode,
        signal: child.signalCode,
        output: `${stdout}${stderr}${failure?.code === 'ENOENT' ? `${command} is not installed` : ''}`,
        timedOut: Boolean(failure?.killed) && child.signalCode === 'SIGKILL',
      });
    }));
  });
}

let compilerVersion: Promise<string> | undefined;

function version(): Promise<string> {
  compilerVersion ??= exec(COMPILER, ['--version'], { timeoutMs: 10_000 }).then((r) => r.output.split('\n')[0] ?? '');
  return compilerVersion;
}

export interface CompileOptions {
  includeDir: string;
  timeoutMs: number;
  cacheDir: string;
  /** false: compile even when the cache has this build. */
  useCache: boolean;
}

export async function hardenedCompile(source: string, options: CompileOptions): Promise<Omit<GateVerdict<CompileDetails>, 'seconds'>> {
  const compiler = await version();
  const flags = [...HARDENED_FLAGS, '-I', options.includeDir];
  const key = createHash('sha256').update(source).update('\0').update(flags.join(' ')).update('\0').update(compiler).digest('hex');
  const modulePath = path.join(options.cacheDir, `${key}.so`);
  const details: CompileDetails = { modulePath, cached: false, key, compilerVersion: compiler, compilerOutput: '', flags };
  if (options.useCache && existsSync(modulePath)) {
    return { gate: 'compile', passed: true, reason: '', details: { ...details, cached: true } };
  }
  await mkdir(options.cacheDir, { recursive: true, mode: 0o755 });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'ouroboros-compile-'));
  try {
    await writeFile(path.join(scratch, 'candidate.cpp'), source);
    const result = await exec(COMPILER, [...flags, 'candidate.cpp', '-o', 'candidate.so'], { cwd: scratch, timeoutMs: options.timeoutMs });
    const compilerOutput = result.output.slice(0, MAX_OUTPUT_CHARS);
    if (result.timedOut) {
      return { gate: 'compile', passed: false, reason: `the compile took longer than compileTimeoutMs = ${options.timeoutMs}`, details: { ...details, modulePath: null, compilerOutput } };
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
    return { gate: 'compile', passed: true, reason: '', details: { ...details, compilerOutput } };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
