/**
 * Gate 2: the static firewall. First the screen: the source rules on the
 * raw text (forbidden APIs and headers, includes not named literally,
 * unbounded loops, pragmas and attributes that override the hardened flags),
 * then the confined preprocessor (preprocess.ts): every file it opened must
 * be an allowed header, and the rules that macros could hide are read again
 * on its output. Then the analysers' findings: clang-tidy and cppcheck on
 * the source, or, for a trusted rendering of the variant generator, its
 * template's findings (template-analysis.ts), the analysers having read the
 * template once. A source that fails the screen is never given to the
 * analysers. The rules' and the analysers' findings each cost part of a
 * safety score in [0, 1]; the gate passes when the score reaches the
 * threshold. A forbidden API, a hardening override or an unbounded loop
 * costs the whole score.
 */
import type { Confinement } from './gatekeeper.js';
import { lint, type LintFinding } from './lint.js';
import { preprocess } from './preprocess.js';
import { type SourceFinding, sourceFindings, streamFindings } from './source-rules.js';
import type { TemplateFindings } from './template-analysis.js';
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
  /** The template whose analysis stood for the analysers (a trusted rendering), or null when they read the source. */
  templateHash: string | null;
  /** Which steps ran: the analysers never see a source the rules refused. */
  stages: ('rules' | 'preprocess' | 'analysers' | 'template-analysis')[];
}

export function safetyScore(findings: ReadonlyArray<{ penalty: number }>): number {
  const penalty = findings.reduce((sum, finding) => sum + finding.penalty, 0);
  return Math.max(0, Math.round((1 - penalty) * 1000) / 1000);
}

export type StaticVerdict = Omit<GateVerdict<StaticDetails>, 'seconds'>;

function refusal(details: StaticDetails, why: string): StaticVerdict {
  return { gate: 'static', passed: false, reason: `safety score ${details.safetyScore} is below the threshold ${details.threshold}; ${why}`, details };
}

function worstRule(findings: readonly SourceFinding[]): SourceFinding | undefined {
  return findings.find((finding) => finding.penalty >= 1);
}

/**
 * The screen's outcome: the details so far, and its refusal, or null when
 * the analysers may read the source (the score is decided after them).
 */
export interface Screening {
  details: StaticDetails;
  refusal: StaticVerdict | null;
}

/**
 * The rules and the confined preprocessor: the cheap part, which decides
 * whether the analysers may read the source. `signal` kills the
 * preprocessor (the caller checks the signal, not the screening).
 */
export async function screenSource(source: string, options: { threshold: number; includeDir: string; signal?: AbortSignal }): Promise<Screening> {
  const details: StaticDetails = {
    safetyScore: 1,
    threshold: options.threshold,
    sourceFindings: sourceFindings(source),
    lintFindings: [],
    unavailable: [],
    confinement: null,
    templateHash: null,
    stages: ['rules'],
  };
  details.safetyScore = safetyScore(details.sourceFindings);
  const fatal = worstRule(details.sourceFindings);
  if (fatal) return { details, refusal: refusal(details, `worst: line ${fatal.line}: ${fatal.message}`) };

  const preprocessed = await preprocess(source, options.includeDir, options.signal);
  details.stages.push('preprocess');
  details.confinement = preprocessed.confinement;
  if (preprocessed.infrastructure) {
    // The machine stopped it, not the source: no score, and the engine records the attempt as failed for the machine.
    const { infrastructure } = preprocessed;
    return { details, refusal: { gate: 'static', passed: false, reason: `the preprocessor: ${infrastructure.message}`, infrastructure, details } };
  }
  if (preprocessed.reason !== '') {
    details.safetyScore = 0;
    return { details, refusal: refusal(details, `the preprocessor: ${preprocessed.reason}`) };
  }
  const expanded = streamFindings(preprocessed.lines, preprocessed.lineNumbers);
  details.sourceFindings.push(...expanded);
  details.safetyScore = safetyScore(details.sourceFindings);
  const hidden = worstRule(expanded);
  if (hidden) return { details, refusal: refusal(details, `worst: line ${hidden.line}: ${hidden.message}`) };
  return { details, refusal: null };
}

/**
 * The verdict on a source the screen let through: its own analysers' findings,
 * or, with `template`, the template's (only for a source the caller has
 * checked is a rendering of that template). `signal` kills the analysers;
 * the verdict then fails with an 'interrupted' reason.
 */
export async function analyseScreened(
  source: string,
  screened: StaticDetails,
  options: { includeDir: string; template: TemplateFindings | null; signal?: AbortSignal },
): Promise<StaticVerdict> {
  const details: StaticDetails = { ...screened, stages: [...screened.stages] };
  if (options.template === null) {
    const { findings, unavailable, unfinished } = await lint(source, options.includeDir, undefined, options.signal);
    if (options.signal?.aborted) return { gate: 'static', passed: false, reason: 'interrupted: the analysers were stopped before they ended', details };
    if (unfinished !== null) return { gate: 'static', passed: false, reason: unfinished.message, infrastructure: unfinished, details };
    details.stages.push('analysers');
    details.lintFindings = findings;
    details.unavailable = unavailable;
  } else {
    details.stages.push('template-analysis');
    details.templateHash = options.template.templateHash;
    details.lintFindings = options.template.findings;
    details.unavailable = options.template.unavailable;
  }
  const findings = [...details.sourceFindings, ...details.lintFindings];
  details.safetyScore = safetyScore(findings);
  if (details.safetyScore >= details.threshold) return { gate: 'static', passed: true, reason: '', details };
  const worst = findings.sort((a, b) => b.penalty - a.penalty)[0];
  return refusal(details, worst ? `worst: line ${worst.line}: ${worst.message}` : 'no single finding');
}

/** The whole gate in one call, for callers outside the pipeline: the analysers always read the source itself. */
export async function staticFirewall(source: string, options: { threshold: number; includeDir: string; signal?: AbortSignal }): Promise<StaticVerdict> {
  const screening = await screenSource(source, options);
  if (screening.refusal) return screening.refusal;
  const { includeDir, signal } = options;
  return analyseScreened(source, screening.details, { includeDir, template: null, ...(signal ? { signal } : {}) });
}
