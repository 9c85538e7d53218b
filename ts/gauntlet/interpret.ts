/**
 * Turning how the runner ended into the verdicts of gates 5 (sandbox: load,
 * differential, invariants), 6 (dojo) and 7 (bench). A worker that died,
 * exited, timed out or broke the channel protocol is reported by the
 * supervisor, and is the failed verdict of the phase it was in; so is a
 * crash, a signal, a timeout or an unparsable report of the supervisor
 * itself. Every sandbox verdict records the seed, so a failure can be replayed.
 */
import { type PhaseReport, ReportDecodeError, type RunnerPhase, type SandboxReport, decodeReport } from './report.js';
import type { RunnerOutcome } from './sandbox-run.js';
import { compareTimes } from './statistics.js';
import type { BenchmarkSummary, GateName, GateVerdict, IsolationLayer } from './types.js';

export type RunnerGate = Extract<GateName, 'sandbox' | 'dojo' | 'bench'>;
const RUNNER_GATES: RunnerGate[] = ['sandbox', 'dojo', 'bench'];

export function gateOfPhase(phase: string | null): RunnerGate {
  if (phase === 'dojo') return 'dojo';
  if (phase === 'bench' || phase === 'report') return 'bench';
  return 'sandbox';
}

const PHASES_OF: Record<RunnerGate, RunnerPhase[]> = {
  sandbox: ['load', 'differential', 'invariants'],
  dojo: ['dojo'],
  bench: ['bench'],
};

export interface Interpretation {
  gates: GateVerdict[];
  isolation: IsolationLayer[];
  benchmark: BenchmarkSummary | null;
}

function describeEnd(outcome: RunnerOutcome): string {
  const during = outcome.lastPhase ? ` during ${outcome.lastPhase}` : ' before it loaded the candidate';
  if (outcome.timedOut) return `killed at the wall-clock limit of ${outcome.timeoutMs} ms${during}`;
  if (outcome.signal) {
    const why = outcome.signal === 'SIGSYS' ? ' (a forbidden system call)' : outcome.signal === 'SIGXCPU' ? ' (CPU time limit)' : '';
    return `the runner died of ${outcome.signal}${why}${during}`;
  }
  return `the runner exited with code ${outcome.code}${during}`;
}

function stderrTail(outcome: RunnerOutcome): string {
  return outcome.stderr
    .split('\n')
    .filter((line) => !line.startsWith('phase '))
    .join('\n')
    .trim()
    .slice(-2000);
}

/** Verdicts up to and including the failed gate, passing those before it. */
function failedAt(gate: RunnerGate, reason: string, seconds: number, details: Record<string, unknown>): GateVerdict[] {
  const index = RUNNER_GATES.indexOf(gate);
  return [
    ...RUNNER_GATES.slice(0, index).map((g) => ({ gate: g, passed: true, reason: '', details: {}, seconds: 0 })),
    { gate, passed: false, reason, details, seconds },
  ];
}

function benchmarkOf(report: SandboxReport): BenchmarkSummary | null {
  if (report.bench.length === 0) return null;
  const lattices = report.bench.map((b) => compareTimes(b.lattice, b.extents, b.steps, b.candidateNs, b.incumbentNs));
  const overhead = report.bench.map((b, i) => ({
    lattice: b.lattice,
    roundTripUs: b.roundTripNs / 1000,
    checkUsPerSample: b.checkNsPerSample / 1000,
    copyUsPerCommand: b.copyNsPerCommand / 1000,
    sampleUs: lattices[i]!.candidateMedianNs / 1000,
  }));
  return { wins: lattices.length === 2 && lattices.every((l) => l.verdict === 'faster'), lattices, overhead };
}

/**
 * A failed phase in words that never name the failing test input: the
 * reason goes back to generators, which must not fit a kernel to one
 * lattice, value or r^2. The findings, with every input, stay in the details.
 */
export function inputFreeReason(phase: PhaseReport): string {
  const first = phase.findings[0] ?? phase.reason;
  // A finding is "<case label>: <what went wrong>"; the label names the input.
  const labelEnd = first.indexOf(': ');
  const what = (labelEnd < 0 ? first : first.slice(labelEnd + 2))
    .replace(/\[[^\]]*\]/g, '[...]')
    .replace(/\b0x[0-9a-f]+\b|-?\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, '#');
  return `${phase.name}: ${phase.failures} of ${phase.cases} cases failed; first: ${what}`;
}

function workerEndVerdict(report: SandboxReport): Interpretation | null {
  const end = report.workerEnd;
  if (end === null) return null;
  const signal = end.signal ? `${end.signal}${end.signal === 'SIGSYS' ? ' (a forbidden system call)' : ''}` : null;
  // A seccomp kill's reason names the call where the supervisor could read it from the kernel's log.
  const seccompKill = end.signal === 'SIGSYS' && end.reason.startsWith('died of SIGSYS');
  const what = end.timedOut || seccompKill ? end.reason : signal ? `died of ${signal}` : end.reason;
  const reason = `the ${end.role}'s worker ${what} during ${end.phase}`;
  const gate = gateOfPhase(end.phase);
  const details = { seed: report.seed, signal: end.signal, code: end.exitCode, timedOut: end.timedOut, phases: report.phases };
  return { gates: failedAt(gate, reason, 0, details), isolation: report.isolation, benchmark: null };
}

function fromReport(report: SandboxReport): Interpretation {
  const ended = workerEndVerdict(report);
  if (ended) return ended;
  const gates: GateVerdict[] = [];
  const byName = new Map<RunnerPhase, PhaseReport>(report.phases.map((p) => [p.name, p]));
  const benchmark = benchmarkOf(report);
  for (const gate of RUNNER_GATES) {
    const phases = PHASES_OF[gate].map((name) => byName.get(name));
    const seconds = phases.reduce((sum, p) => sum + (p?.seconds ?? 0), 0);
    const failed = phases.find((p) => p !== undefined && !p.passed);
    const missing = PHASES_OF[gate].find((_name, i) => phases[i] === undefined);
    const details: Record<string, unknown> = { phases: phases.filter((p) => p !== undefined) };
    if (gate === 'sandbox') {
      details.isolation = report.isolation;
      details.seed = report.seed;
      details.precision = report.precision;
    }
    if (gate === 'bench' && benchmark) {
      details.benchmark = benchmark;
      // Drawn from the seed for every evaluation unless given: recorded so that a run can be replayed.
      details.heldOutExtents = report.bench.find((b) => b.lattice === 'held-out')?.extents ?? null;
      details.stepsPerCall = report.bench.find((b) => b.lattice === 'target')?.stepsPerCall ?? null;
    }
    if (failed) {
      gates.push({ gate, passed: false, reason: inputFreeReason(failed), details, seconds });
      break;
    }
    if (missing) {
      gates.push({ gate, passed: false, reason: `the report ends before the ${missing} phase`, details, seconds });
      break;
    }
    if (gate === 'bench' && benchmark?.lattices.length !== 2) {
      gates.push({ gate, passed: false, reason: 'the report lacks the target and held-out timings', details, seconds });
      break;
    }
    gates.push({ gate, passed: true, reason: '', details, seconds });
  }
  return { gates, isolation: report.isolation, benchmark };
}

export function interpretRun(outcome: RunnerOutcome): Interpretation {
  if (outcome.code !== 0 || outcome.timedOut) {
    const gate = gateOfPhase(outcome.lastPhase);
    return {
      gates: failedAt(gate, describeEnd(outcome), outcome.seconds, { stderr: stderrTail(outcome), signal: outcome.signal, code: outcome.code }),
      isolation: [],
      benchmark: null,
    };
  }
  try {
    return fromReport(decodeReport(outcome.stdout));
  } catch (error) {
    if (!(error instanceof ReportDecodeError)) throw error;
    const gate = gateOfPhase(outcome.lastPhase);
    return { gates: failedAt(gate, error.message, outcome.seconds, { stderr: stderrTail(outcome) }), isolation: [], benchmark: null };
  }
}
