/**
 * Gate 2: the static firewall. The source rules (forbidden APIs and headers,
 * unbounded loops) and the analysers' findings each cost part of a safety
 * score in [0, 1]; the gate passes when the score reaches the threshold. A
 * forbidden API or an unbounded loop costs the whole score.
 */
import { lint, type LintFinding } from './lint.js';
import { type SourceFinding, sourceFindings } from './source-rules.js';
import type { GateVerdict } from './types.js';

export const DEFAULT_SAFETY_THRESHOLD = 0.8;

export interface StaticDetails {
  safetyScore: number;
  threshold: number;
  sourceFindings: SourceFinding[];
  lintFindings: LintFinding[];
  /** Analysers that are not installed: their findings are missing from the score. */
  unavailable: string[];
}

export function safetyScore(findings: ReadonlyArray<{ penalty: number }>): number {
  const penalty = findings.reduce((sum, finding) => sum + finding.penalty, 0);
  return Math.max(0, Math.round((1 - penalty) * 1000) / 1000);
}

export async function staticFirewall(
  source: string,
  options: { threshold: number; includeDir: string },
): Promise<Omit<GateVerdict<StaticDetails>, 'seconds'>> {
  const own = sourceFindings(source);
  const { findings: lintFindings, unavailable } = await lint(source, options.includeDir);
  const score = safetyScore([...own, ...lintFindings]);
  const details = { safetyScore: score, threshold: options.threshold, sourceFindings: own, lintFindings, unavailable };
  if (score >= options.threshold) return { gate: 'static', passed: true, reason: '', details };
  const worst =
    own.find((f) => f.penalty >= 1) ?? [...own, ...lintFindings].sort((a, b) => b.penalty - a.penalty)[0];
  const first = worst ? `; worst: line ${worst.line}: ${worst.message}` : '';
  return {
    gate: 'static',
    passed: false,
    reason: `safety score ${score} is below the threshold ${options.threshold}${first}`,
    details,
  };
}
