/**
 * The preprocessor's reading of a candidate, confined like every gauntlet
 * tool: `g++ -E -dD` with the hardened compile's own flags (so the macros
 * the headers see are the compile's), which keeps `#define`/`#undef`, turns
 * `_Pragma` into `#pragma` and expands token pasting, macros and digraphs;
 * `-MD` lists every file it opened. Every dependency must be the candidate
 * itself, a kernel ABI header or a system header (a regular file): a host
 * file named through a macro or `__has_include`, or a device such as
 * `/dev/zero`, is refused before the compile or any analyser reads it.
 * The preprocessor's messages can quote what it read, so no part of them
 * leaves this module: a failure is a line number and a fixed sentence.
 */
import { realpathSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { COMPILER, HARDENED_FLAGS } from './compile.js';
import { type Confinement, type ConfinedRun, runConfined, starved, type ToolLimits } from './gatekeeper.js';
import { busy } from './infrastructure.js';
import { makeScratch } from './scratch.js';
import type { InfrastructureFailure } from './types.js';

/** Where system headers live: the C library's, libstdc++'s and the compiler's own. */
export const SYSTEM_INCLUDE_DIRS = ['/usr/include', '/usr/lib/gcc', '/usr/local/include'];
/** Preprocessing <algorithm> with -dD writes about 3 MiB and peaks near 100 MiB. */
export const PREPROCESSOR_LIMITS: ToolLimits = { memoryMiB: 512, cpuSeconds: 20, fileMiB: 16 };
const PREPROCESS_TIMEOUT_MS = 30_000;
const SOURCE_NAME = 'candidate.cpp';

export interface Preprocessed {
  /** Empty when it preprocessed and every dependency is allowed. */
  reason: string;
  /** How many files it opened (the candidate included). */
  dependencyCount: number;
  /** The candidate's own lines of the output, with their line numbers in the source. */
  lines: string[];
  lineNumbers: number[];
  confinement: Confinement | null;
  /** Set when the machine, not the source, stopped the preprocessor (reason then says so too). */
  infrastructure?: InfrastructureFailure;
}

/** The flags that decide what the preprocessor sees: the compile's, without the linker's. */
function preprocessorFlags(includeDir: string): string[] {
  const compileOnly = HARDENED_FLAGS.filter((flag) => !flag.startsWith('-Wl,') && flag !== '-shared' && flag !== '-nostartfiles');
  return [...compileOnly, '-I', includeDir];
}

/** The prerequisites of a make rule as g++ -MD writes it. */
export function dependencies(rule: string): string[] {
  const body = rule.slice(rule.indexOf(':') + 1).replace(/\\\n/g, ' ');
  return body
    .split(/(?<!\\)\s+/)
    .filter(Boolean)
    .map((name) => name.replace(/\\ /g, ' '));
}

function inside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** Whether `file` (as g++ named it, relative to `scratch`) is a header a kernel may read. */
export function allowedDependency(file: string, scratch: string, includeDir: string): boolean {
  const absolute = path.resolve(scratch, file);
  let real: string;
  try {
    real = realpathSync(absolute);
    if (!statSync(real).isFile()) return false;
  } catch {
    return false;
  }
  if (real === realpathSync(path.join(scratch, SOURCE_NAME))) return true;
  return [realpathSync(includeDir), ...SYSTEM_INCLUDE_DIRS].some((dir) => inside(real, dir));
}

/**
 * The candidate's own lines of `g++ -E` output: every line outside the headers it includes, from the marker that
 * starts the source (after the built-in and command-line prelude) on. Inclusion is followed by the markers' flags
 * (1 entering a header, 2 leaving it), not by the names they give: a `#line` directive or a line marker written in the
 * source renames the lines after it, and judged by name they would not be the candidate's.
 */
export function candidateLines(output: string): { lines: string[]; lineNumbers: number[] } {
  const lines: string[] = [];
  const lineNumbers: number[] = [];
  let started = false;
  let depth = 0;
  let next = 1;
  for (const text of output.split('\n')) {
    const marker = /^# (\d+) "((?:[^"\\]|\\.)*)"((?: \d+)*)\s*$/.exec(text);
    if (marker) {
      const flags = marker[3]!.trim().split(/\s+/);
      if (flags.includes('1')) depth += 1;
      else if (flags.includes('2')) depth = Math.max(0, depth - 1);
      if (depth === 0 && marker[2] === SOURCE_NAME && Number(marker[1]) >= 1) started = true;
      next = Number(marker[1]);
      continue;
    }
    if (started && depth === 0) {
      lines.push(text);
      lineNumbers.push(next);
    }
    next += 1;
  }
  return { lines, lineNumbers };
}

/** The line g++ names first in its output ("candidate.cpp:12:3: error: ..."), or null. */
function firstErrorLine(output: string): number | null {
  const match = /candidate\.cpp:(\d+):(?:\d+:)? (?:fatal )?error/.exec(output);
  return match ? Number(match[1]) : null;
}

/**
 * Why a preprocessor that was killed stopped. At its memory limit, or at its
 * time limit having had the CPU, the source made it grow or loop (a macro
 * bomb, `#include "/dev/zero"`): the source's fault. At its time limit having
 * had less than half a core, it waited for the cores (a loaded machine, or
 * held while the sandbox measured): the machine's, and says nothing of the
 * source.
 */
export function stopped(run: ConfinedRun): { reason: string; infrastructure?: InfrastructureFailure } {
  if (starved(run, PREPROCESS_TIMEOUT_MS)) {
    const infrastructure = busy('the preprocessor', PREPROCESS_TIMEOUT_MS, run.cpuSecondsAtTimeout ?? 0);
    return { reason: infrastructure.message, infrastructure };
  }
  return { reason: 'the preprocessor was stopped at its time or memory limit' };
}

export async function preprocess(source: string, includeDir: string, signal?: AbortSignal): Promise<Preprocessed> {
  const scratch = await makeScratch('preprocess-');
  const empty = { dependencyCount: 0, lines: [], lineNumbers: [] };
  try {
    await writeFile(path.join(scratch, SOURCE_NAME), source);
    const args = [...preprocessorFlags(includeDir), '-E', '-dD', '-MD', '-MF', 'deps.d', SOURCE_NAME, '-o', 'candidate.ii'];
    const run = await runConfined(COMPILER, args, {
      scratch,
      read: [includeDir],
      limits: PREPROCESSOR_LIMITS,
      timeoutMs: PREPROCESS_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    const { confinement } = run;
    if (run.aborted) return { ...empty, confinement, reason: 'interrupted: the preprocessor was stopped before it ended' };
    if (run.timedOut || run.signal !== null) return { ...empty, confinement, ...stopped(run) };
    if (run.code !== 0) {
      const line = firstErrorLine(`${run.stdout}${run.stderr}`);
      const where = line === null ? '' : ` at line ${line}`;
      return { ...empty, confinement, reason: `does not preprocess${where}: a header it names is missing or not readable to a kernel` };
    }
    const files = dependencies(await readFile(path.join(scratch, 'deps.d'), 'utf8'));
    const refused = files.filter((file) => !allowedDependency(file, scratch, includeDir));
    if (refused.length > 0) {
      return {
        ...empty,
        dependencyCount: files.length,
        confinement,
        reason: `reads ${refused.length} file(s) outside the kernel ABI and system headers`,
      };
    }
    const { lines, lineNumbers } = candidateLines(await readFile(path.join(scratch, 'candidate.ii'), 'utf8'));
    return { reason: '', dependencyCount: files.length, lines, lineNumbers, confinement };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
