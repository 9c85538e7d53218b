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
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Confinement, runConfined, type ToolLimits } from './gatekeeper.js';

export interface LintFinding {
  tool: 'clang-tidy' | 'cppcheck';
  id: string;
  severity: string;
  line: number;
  message: string;
  penalty: number;
}

const TOOL_TIMEOUT_MS = 60_000;
/** clang-tidy's analyser peaks near 400 MiB on the variant generator's kernels. */
export const ANALYSER_LIMITS: ToolLimits = { memoryMiB: 2048, cpuSeconds: 60, fileMiB: 16 };
const CLANG_TIDY_CHECKS = '-*,clang-analyzer-*,bugprone-*,cert-*,-cert-err58-cpp,-bugprone-easily-swappable-parameters';

interface ToolRun {
  stdout: string;
  stderr: string;
  missing: boolean;
  /** Killed at a limit or unable to start under it (exit >= 126): its silence proves nothing. */
  stopped: boolean;
  confinement: Confinement | null;
}

async function run(command: string, args: string[], scratch: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<ToolRun> {
  const result = await runConfined(command, args, { scratch, read: [includeDir], limits, timeoutMs: TOOL_TIMEOUT_MS, ...(signal ? { signal } : {}) });
  // The gatekeeper's execvp failed: the tool is not installed.
  const missing = result.code === 126 && /cannot start/.test(result.stderr);
  const stopped = !missing && (result.timedOut || result.signal !== null || (result.code ?? 0) >= 126);
  return { stdout: result.stdout, stderr: result.stderr, missing, stopped, confinement: result.confinement };
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

async function clangTidy(file: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<LintFinding[] | null> {
  const scratch = path.dirname(file);
  const result = await run('clang-tidy', ['-quiet', `-checks=${CLANG_TIDY_CHECKS}`, file, '--', '-std=c++17', '-I', includeDir], scratch, includeDir, limits, signal);
  if (result.missing) return null;
  if (result.stopped) return [stoppedFinding('clang-tidy')];
  const findings: LintFinding[] = [];
  for (const match of result.stdout.matchAll(/^[^\n:]+:(\d+):\d+: (warning|error): (.*?) \[([\w.,-]+)\]$/gm)) {
    const id = match[4]!.split(',')[0]!;
    findings.push({ tool: 'clang-tidy', id, severity: match[2]!, line: Number(match[1]), message: match[3]!, penalty: clangTidyPenalty(id) });
  }
  return findings;
}

async function cppcheck(file: string, includeDir: string, limits: ToolLimits, signal?: AbortSignal): Promise<LintFinding[] | null> {
  const scratch = path.dirname(file);
  const result = await run('cppcheck', [
    '--enable=warning,style,performance,portability',
    '--inline-suppr',
    '--quiet',
    '--language=c++',
    '--std=c++17',
    '--suppress=missingIncludeSystem',
    '--suppress=unusedFunction',
    '--template={severity}|{id}|{line}|{message}',
    '-I',
    includeDir,
    file,
  ], scratch, includeDir, limits, signal);
  if (result.missing) return null;
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
}

/**
 * Runs both analysers on `source`, in a scratch directory removed
 * afterwards. When `signal` aborts they are killed, and what they found is
 * meaningless: the caller checks the signal, not the findings.
 */
export async function lint(source: string, includeDir: string, limits: ToolLimits = ANALYSER_LIMITS, signal?: AbortSignal): Promise<LintResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ouroboros-lint-'));
  try {
    const file = path.join(dir, 'candidate.cpp');
    await writeFile(file, source);
    const [tidy, check] = await Promise.all([clangTidy(file, includeDir, limits, signal), cppcheck(file, includeDir, limits, signal)]);
    return {
      findings: [...(tidy ?? []), ...(check ?? [])],
      unavailable: [tidy === null ? 'clang-tidy' : null, check === null ? 'cppcheck' : null].filter((t): t is string => t !== null),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
