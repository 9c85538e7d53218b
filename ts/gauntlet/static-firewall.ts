/**
 * Gate 2: the static firewall. First the source rules on the raw text
 * (forbidden APIs and headers, includes not named literally, unbounded
 * loops, pragmas and attributes that override the hardened flags); then the
 * confined preprocessor (preprocess.ts): every file it opened must be an
 * allowed header, and the rules that macros could hide are read again on
 * its output; then the analysers. A source that fails a rule is never given
 * to the preprocessor or the analysers. The rules' and the analysers'
 * findings each cost part of a safety score in [0, 1]; the gate passes when
 * the score reaches the threshold. A forbidden API, a hardening override or
 * an unbounded loop costs the whole score.
 */
import type { Confinement } from './gatekeeper.js';
import { lint, type LintFinding } from './lint.js';
import { preprocess } from './preprocess.js';
import { type SourceFinding, sourceFindings, streamFindings } from './source-rules.js';
import type { GateVerdict } from './types.js';

export const DEFAULT_SAFETY_THRESHOLD = 0.8;

export interface StaticDetails {
  safetyScore: number;
  threshold: number;
  sourceFindings: SourceFinding[];
  lintFindings: LintFinding[];
  /** Analysers that are not installed: their findings are missing from the score. */
  unavailable: string[];
  /** How the preprocessor was confined; null when it did not run. */
  confinement: Confinement | null;
  /** Which steps ran: the analysers never see a source the rules refused. */
  stages: ('rules' | 'preprocess' | 'analysers')[];
}

export function safetyScore(findings: ReadonlyArray<{ penalty: number }>): number {
  const penalty = findings.reduce((sum, finding) => sum + finding.penalty, 0);
  return Math.max(0, Math.round((1 - penalty) * 1000) / 1000);
}

type StaticVerdict = Omit<GateVerdict<StaticDetails>, 'seconds'>;

function refusal(details: StaticDetails, why: string): StaticVerdict {
  return { gate: 'static', passed: false, reason: `safety score ${details.safetyScore} is below the threshold ${details.threshold}; ${why}`, details };
}

function worstRule(findings: readonly SourceFinding[]): SourceFinding | undefined {
  return findings.find((finding) => finding.penalty >= 1);
}

/** `signal` kills the preprocessor and the analysers; the verdict then fails with an 'interrupted' reason. */
export async function staticFirewall(source: string, options: { threshold: number; includeDir: string; signal?: AbortSignal }): Promise<StaticVerdict> {
  const details: StaticDetails = {
    safetyScore: 1,
    threshold: options.threshold,
    sourceFindings: sourceFindings(source),
    lintFindings: [],
    unavailable: [],
    confinement: null,
    stages: ['rules'],
  };
  details.safetyScore = safetyScore(details.sourceFindings);
  const fatal = worstRule(details.sourceFindings);
  if (fatal) return refusal(details, `worst: line ${fatal.line}: ${fatal.message}`);

  const preprocessed = await preprocess(source, options.includeDir, options.signal);
  details.stages.push('preprocess');
  details.confinement = preprocessed.confinement;
  if (preprocessed.reason !== '') {
    details.safetyScore = 0;
    return refusal(details, `the preprocessor: ${preprocessed.reason}`);
  }
  const expanded = streamFindings(preprocessed.lines, preprocessed.lineNumbers);
  details.sourceFindings.push(...expanded);
  details.safetyScore = safetyScore(details.sourceFindings);
  const hidden = worstRule(expanded);
  if (hidden) return refusal(details, `worst: line ${hidden.line}: ${hidden.message}`);

  const { findings, unavailable } = await lint(source, options.includeDir, undefined, options.signal);
  if (options.signal?.aborted) return { gate: 'static', passed: false, reason: 'interrupted: the analysers were stopped before they ended', details };
  details.stages.push('analysers');
  details.lintFindings = findings;
  details.unavailable = unavailable;
  details.safetyScore = safetyScore([...details.sourceFindings, ...findings]);
  if (details.safetyScore >= options.threshold) return { gate: 'static', passed: true, reason: '', details };
  const worst = [...details.sourceFindings, ...findings].sort((a, b) => b.penalty - a.penalty)[0];
  return refusal(details, worst ? `worst: line ${worst.line}: ${worst.message}` : 'no single finding');
}
