/**
 * clang-tidy and cppcheck on a candidate source (Debian packages; see
 * .ci/run). Their findings become penalties of the static firewall's safety
 * score: bugs the analysers prove (uninitialised reads, out-of-bounds
 * indices, null dereferences) cost most, style costs little. They run
 * confined by the gatekeeper (gatekeeper.ts), only on a source the rules
 * and the preprocessor have accepted, and only the line, the check's id and
 * its message are kept from what they print. An analyser stopped at a
 * limit, or unable to start under it, costs the whole score.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Confinement, runConfined, starved, type ToolLimits } from './gatekeeper.js';
import { busy } from './infrastructure.js';
import type { InfrastructureFailure } from './types.js';
import { makeScratch } from './scratch.js';

export interface LintFinding {
  tool: 'clang-tidy' | 'cppcheck';
  id: string;
  severity: string;
  line: number;
  message: string;
  penalty: number;
}

/**
 * Each analyser's wall-clock limit: twice its CPU limit, so that on a
 * loaded machine or across a sandbox's hold a tool still reaches its CPU
 * limit (the source's fault) before this one (the machine's).
 */
const TOOL_TIMEOUT_MS = 120_000;
/** clang-tidy's analyser peaks near 400 MiB on the variant generator's kernels. */
export const ANALYSER_LIMITS: ToolLimits = { memoryMiB: 2048, cpuSeconds: 60, fileMiB: 16 };
const CLANG_TIDY_CHECKS = '-*,clang-analyzer-*,bugprone-*,cert-*,-cert-err58-cpp,-bugprone-easily-swappable-parameters';
const CLANG_TIDY_ARGUMENTS = ['-quiet', `-checks=${CLANG_TIDY_CHECKS}`];
const CPPCHECK_ARGUMENTS = [
  '--enable=warning,style,performance,portability',
  '--inline-suppr',
  '--quiet',
  '--language=c++',
  '--std=c++17',
  '--suppress=missingIncludeSystem',
  '--suppress=unusedFunction',
  '--template={severity}|{id}|{line}|{message}',
];

/**
 * What the analysers are asked to look for: an analysis made with other
 * checks or arguments says nothing about these (template-analysis.ts keys on it).
 */
export const LINT_CONFIGURATION = JSON.stringify({ 'clang-tidy': CLANG_TIDY_ARGUMENTS, cppcheck: CPPCHECK_ARGUMENTS });

interface ToolRun {
  stdout: string;
  stderr: string;
  missing: boolean;
  /** Killed at a limit or unable to start under it (exit >= 126): its silence proves nothing. */
  stopped: boolean;
  /** Killed at its wall-clock limit having had little CPU: the machine was too busy for it (null otherwise). */
  starvedBy: InfrastructureFailure | null;
  confinement: Confinement | null;
}

async function run(command: string, args: string[], scratch: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<ToolRun> {
  const result = await runConfined(command, args, { scratch, read: [includeDir], limits, timeoutMs: TOOL_TIMEOUT_MS, ...(signal ? { signal } : {}) });
  // The gatekeeper's execvp failed: the tool is not installed.
  const missing = result.code === 126 && /cannot start/.test(result.stderr);
  const stopped = !missing && (result.timedOut || result.signal !== null || (result.code ?? 0) >= 126);
  const starvedBy = starved(result, TOOL_TIMEOUT_MS) ? busy(command, TOOL_TIMEOUT_MS, result.cpuSecondsAtTimeout!) : null;
  return { stdout: result.stdout, stderr: result.stderr, missing, stopped, starvedBy, confinement: result.confinement };
}

/**
 * A source that makes an analyser exceed its limits would otherwise pass
 * with no findings from it: that costs the whole score.
 */
function stoppedFinding(tool: LintFinding['tool']): LintFinding {
  return { tool, id: 'analyser-stopped', severity: 'error', line: 0, message: `${tool} was stopped at its time or memory limit`, penalty: 1 };
}

function clangTidyPenalty(id: string): number {
  if (id.startsWith('clang-analyzer-')) return 0.25;
  if (id.startsWith('bugprone-') || id.startsWith('cert-')) return 0.05;
  return 0.02;
}

function cppcheckPenalty(severity: string): number {
  if (severity === 'error') return 0.25;
  if (severity === 'warning') return 0.1;
  return 0.02;
}

/** One analyser's findings; null when it is not installed; an infrastructure failure when the machine kept it from finishing. */
type AnalyserFindings = LintFinding[] | null | InfrastructureFailure;

async function clangTidy(file: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<AnalyserFindings> {
  const scratch = path.dirname(file);
  const result = await run('clang-tidy', [...CLANG_TIDY_ARGUMENTS, file, '--', '-std=c++17', '-I', includeDir], scratch, includeDir, limits, signal);
  if (result.missing) return null;
  if (result.starvedBy) return result.starvedBy;
  if (result.stopped) return [stoppedFinding('clang-tidy')];
  const findings: LintFinding[] = [];
  for (const match of result.stdout.matchAll(/^[^\n:]+:(\d+):\d+: (warning|error): (.*?) \[([\w.,-]+)\]$/gm)) {
    const id = match[4]!.split(',')[0]!;
    findings.push({ tool: 'clang-tidy', id, severity: match[2]!, line: Number(match[1]), message: match[3]!, penalty: clangTidyPenalty(id) });
  }
  return findings;
}

async function cppcheck(file: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<AnalyserFindings> {
  const scratch = path.dirname(file);
  const result = await run('cppcheck', [...CPPCHECK_ARGUMENTS, '-I', includeDir, file], scratch, includeDir, limits, signal);
  if (result.missing) return null;
  if (result.starvedBy) return result.starvedBy;
  if (result.stopped) return [stoppedFinding('cppcheck')];
  const findings: LintFinding[] = [];
  for (const match of result.stderr.matchAll(/^(\w+)\|(\w+)\|(\d+)\|(.*)$/gm)) {
    const severity = match[1]!;
    if (severity === 'information') continue;
    findings.push({ tool: 'cppcheck', id: match[2]!, severity, line: Number(match[3]), message: match[4]!, penalty: cppcheckPenalty(severity) });
  }
  return findings;
}

export interface LintResult {
  findings: LintFinding[];
  /** Tools that are not installed (their findings are then missing). */
  unavailable: string[];
  /** Set when the machine kept an analyser from finishing: the findings are then incomplete and say nothing. */
  unfinished: InfrastructureFailure | null;
}

/**
 * Runs both analysers on `source`, in a scratch directory removed
 * afterwards. When `signal` aborts they are killed, and what they found is
 * meaningless: the caller checks the signal, not the findings.
 */
export async function lint(source: string, includeDir: string, limits: ToolLimits = ANALYSER_LIMITS, signal?: AbortSignal): Promise<LintResult> {
  const dir = await makeScratch('lint-');
  try {
    const file = path.join(dir, 'candidate.cpp');
    await writeFile(file, source);
    const [tidy, check] = await Promise.all([clangTidy(file, includeDir, limits, signal), cppcheck(file, includeDir, limits, signal)]);
    const found = (result: AnalyserFindings) => (Array.isArray(result) ? result : []);
    const unfinished = [tidy, check].find((result): result is InfrastructureFailure => result !== null && !Array.isArray(result)) ?? null;
    return {
      findings: [...found(tidy), ...found(check)],
      unavailable: [tidy === null ? 'clang-tidy' : null, check === null ? 'cppcheck' : null].filter((t): t is string => t !== null),
      unfinished,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
