/**
 * Decoding the runner's one protobuf message (proto/sandbox_report.proto)
 * into plain typed objects, checking what the schema cannot: the version,
 * the phase names, the bench lattices.
 */
import { ouroboros } from '../generated/sandbox_report.js';
import type { IsolationLayer } from './types.js';

export const REPORT_SCHEMA_VERSION = 1;
export const RUNNER_PHASES = ['load', 'differential', 'invariants', 'dojo', 'bench'] as const;
export type RunnerPhase = (typeof RUNNER_PHASES)[number];

export interface PhaseReport {
  name: RunnerPhase;
  passed: boolean;
  reason: string;
  cases: number;
  failures: number;
  seconds: number;
  findings: string[];
}

export interface BenchSamples {
  lattice: string;
  extents: number[];
  steps: number;
  /** Steps per wave_step call in a sample, the live runner's batch (1 for a readout). */
  stepsPerCall: number;
  /** The r^2 the samples ran with, drawn from the seed. */
  courant2: number;
  /** The median round trip of an empty command to the candidate's worker. */
  roundTripNs: number;
  /** The supervisor's oracle probe per candidate sample, outside the timed round trips. */
  checkNsPerSample: number;
  /** Copying the buffers into and out of the candidate's stopped worker, per command, outside the timed round trips. */
  copyNsPerCommand: number;
  candidateNs: number[];
  incumbentNs: number[];
}

/** A worker that ended before the run did: the verdict of the phase it was in. */
export interface WorkerEnd {
  role: 'candidate' | 'incumbent';
  phase: RunnerPhase;
  reason: string;
  signal: string | null;
  exitCode: number | null;
  timedOut: boolean;
}

export interface SandboxReport {
  slot: string;
  seed: number;
  precision: string;
  candidateName: string;
  isolation: IsolationLayer[];
  phases: PhaseReport[];
  bench: BenchSamples[];
  workerEnd: WorkerEnd | null;
}

export class ReportDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportDecodeError';
  }
}

export function decodeReport(bytes: Uint8Array): SandboxReport {
  if (bytes.length === 0) throw new ReportDecodeError('the runner wrote no report');
  let message: ouroboros.sandbox.SandboxReport;
  try {
    message = ouroboros.sandbox.SandboxReport.decode(bytes);
  } catch (error) {
    throw new ReportDecodeError(`the report does not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (message.schemaVersion !== REPORT_SCHEMA_VERSION) {
    throw new ReportDecodeError(`report schema_version = ${message.schemaVersion}: this orchestrator reads ${REPORT_SCHEMA_VERSION}`);
  }
  const phases = (message.phases ?? []).map((phase, index): PhaseReport => {
    const name = RUNNER_PHASES[index];
    if (name === undefined || phase.name !== name) {
      throw new ReportDecodeError(`report phase ${index} is "${phase.name}": expected "${RUNNER_PHASES[index]}"`);
    }
    return {
      name,
      passed: phase.passed === true,
      reason: phase.reason ?? '',
      cases: phase.cases ?? 0,
      failures: phase.failures ?? 0,
      seconds: phase.seconds ?? 0,
      findings: [...(phase.findings ?? [])],
    };
  });
  if (phases.length === 0) throw new ReportDecodeError('the report has no phases');
  return {
    slot: message.slot,
    seed: Number(message.seed),
    precision: message.precision ?? '',
    candidateName: message.candidateName,
    isolation: (message.isolation ?? []).map((layer) => ({
      name: layer.name ?? '',
      active: layer.active === true,
      detail: layer.detail ?? '',
    })),
    phases,
    bench: (message.bench ?? []).map((b) => ({
      lattice: b.lattice ?? '',
      extents: (b.extents ?? []).map(Number),
      steps: Number(b.steps ?? 0),
      stepsPerCall: Number(b.stepsPerCall ?? 1),
      courant2: b.courant2 ?? 0,
      roundTripNs: b.roundTripNs ?? 0,
      checkNsPerSample: b.checkNsPerSample ?? 0,
      copyNsPerCommand: b.copyNsPerCommand ?? 0,
      candidateNs: [...(b.candidateNs ?? [])],
      incumbentNs: [...(b.incumbentNs ?? [])],
    })),
    workerEnd: decodeWorkerEnd(message.workerEnd),
  };
}

function decodeWorkerEnd(end: ouroboros.sandbox.WorkerEnd.$Properties | null | undefined): WorkerEnd | null {
  if (end === null || end === undefined) return null;
  const role = end.role;
  if (role !== 'candidate' && role !== 'incumbent') throw new ReportDecodeError(`report worker_end role is "${role}": expected "candidate" or "incumbent"`);
  const phase = RUNNER_PHASES.find((name) => name === end.phase);
  if (phase === undefined) throw new ReportDecodeError(`report worker_end phase is "${end.phase}": not a runner phase`);
  return {
    role,
    phase,
    reason: end.reason ?? '',
    signal: end.signal ? end.signal : null,
    exitCode: end.signal || end.timedOut ? null : (end.exitCode ?? 0),
    timedOut: end.timedOut === true,
  };
}
