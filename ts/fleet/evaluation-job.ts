/**
 * What crosses the queue: an evaluation job (the candidate and the options
 * of its gauntlet run, the incumbent module's bytes) and its result (the
 * verdict and the built module's bytes). Both are plain JSON; the modules
 * travel as base64 and are staged by content hash at each end, so a worker
 * on another machine needs nothing of the engine's files.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CandidateOptions } from '../gauntlet/options.js';
import type { GauntletVerdict } from '../gauntlet/types.js';
import { ensurePrivateDir, privateTmpPath } from '../util/private-dir.js';
import { fileSha256, sha256Hex } from '../util/sha256.js';
import { canonicalHash } from './canonical-json.js';

/** The version of the job and result layout; a worker refuses any other. */
export const JOB_SCHEMA = 1;

/** A kernel module as bytes. */
export interface ModuleBytes {
  sha256: string;
  base64: string;
}

/** The options of a gauntlet run that mean the same on every machine (not its cache, pool or signal). */
const PORTABLE_OPTIONS = [
  'slot',
  'precision',
  'safetyThreshold',
  'targetExtents',
  'heldOutCells',
  'stepsPerCall',
  'benchSteps',
  'benchSamples',
  'dojoWaves',
  'threads',
] as const;

/** The candidate and the settings of its gauntlet run, as the engine's judge chose them; an absent one is the gauntlet's default. */
export type CandidateSpec = Pick<CandidateOptions, (typeof PORTABLE_OPTIONS)[number]> & {
  source: string;
  genome: Record<string, unknown> | null;
  /** The incumbent it is judged against; null: the reference kernel every worker has. */
  incumbent: ModuleBytes | null;
};

export interface EvaluationJob {
  schema: typeof JOB_SCHEMA;
  /** The fingerprint the engine runs on: the build must target it. */
  fingerprintHash: string;
  engineId: string;
  candidate: CandidateSpec;
}

export interface EvaluationResult {
  schema: typeof JOB_SCHEMA;
  jobId: string;
  workerId: string;
  /** The worker's fingerprint: the engine uses the result only when it is its own. */
  fingerprintHash: string;
  verdict: GauntletVerdict;
  /** The module the compile gate built (null when it built none). */
  module: ModuleBytes | null;
  /** Deliveries before this one that ended in a timeout. */
  timeouts: number;
}

export function moduleBytes(file: string): ModuleBytes {
  const bytes = readFileSync(file);
  return { sha256: sha256Hex(bytes), base64: bytes.toString('base64') };
}

/**
 * Writes received module bytes to this user's private staging directory
 * under their sha256 (checked: bytes that do not hash to the name are
 * refused) and returns the path; a module already staged is reused.
 */
export function stageModule(module: ModuleBytes, dir = privateTmpPath('fleet-modules')): string {
  ensurePrivateDir(dir);
  if (!/^[0-9a-f]{64}$/.test(module.sha256)) throw new Error(`module sha256 "${module.sha256.slice(0, 80)}" is not 64 hex digits`);
  const bytes = Buffer.from(module.base64, 'base64');
  const actual = sha256Hex(bytes);
  if (actual !== module.sha256) throw new Error(`module bytes hash to ${actual}, not the ${module.sha256} they were sent as`);
  const file = path.join(dir, `${module.sha256}.so`);
  if (existsSync(file) && fileSha256(file) === module.sha256) return file;
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, bytes, { mode: 0o600 });
  renameSync(partial, file);
  return file;
}

/** The job of a gauntlet run the engine's judge asked for. */
export function jobFromOptions(options: CandidateOptions, fingerprintHash: string, engineId: string): EvaluationJob {
  const portable = Object.fromEntries(PORTABLE_OPTIONS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
  return {
    schema: JOB_SCHEMA,
    fingerprintHash,
    engineId,
    candidate: {
      ...portable,
      source: options.source,
      genome: options.genome ?? null,
      incumbent: options.incumbent === undefined ? null : moduleBytes(options.incumbent),
    },
  };
}

/**
 * The job id: the hash of the candidate and everything its judgement
 * depends on (the incumbent's bytes, the settings, the target fingerprint),
 * not of who asked. BullMQ keeps one job per id, so the same candidate
 * enqueued twice, or by two engines, is evaluated once.
 */
export function jobId(job: EvaluationJob): string {
  const { incumbent, ...candidate } = job.candidate;
  return canonicalHash({ schema: job.schema, fingerprintHash: job.fingerprintHash, candidate, incumbent: incumbent?.sha256 ?? null });
}

/** The gauntlet options a worker runs a job with; `incumbentPath` is where it staged the incumbent's bytes. */
export function optionsFromJob(job: EvaluationJob, incumbentPath: string | undefined, signal: AbortSignal): CandidateOptions {
  const { incumbent: _bytes, ...candidate } = job.candidate;
  return { ...candidate, ...(incumbentPath === undefined ? {} : { incumbent: incumbentPath }), signal };
}

/** The module path the compile gate of a verdict names, or null. */
export function verdictModulePath(verdict: GauntletVerdict): string | null {
  const compile = verdict.gates.find((gate) => gate.gate === 'compile');
  return (compile?.details as { modulePath?: string | null } | undefined)?.modulePath ?? null;
}

/** The verdict with its compile gate's module path replaced (the engine's staged copy of the worker's build). */
export function withModulePath(verdict: GauntletVerdict, modulePath: string | null): GauntletVerdict {
  return {
    ...verdict,
    gates: verdict.gates.map((gate) => (gate.gate === 'compile' ? { ...gate, details: { ...gate.details, modulePath } } : gate)),
  };
}

/** The verdict of a job every delivery of which ran out of time: rejected at the gate that was running, named as the sandbox. */
export function timeoutVerdict(deliveries: number, jobTimeoutMs: number): GauntletVerdict {
  const reason = `timed out on the fleet: ${deliveries} deliveries, each stopped after ${jobTimeoutMs} ms`;
  return {
    interrupted: false,
    accepted: false,
    improves: false,
    failedGate: 'sandbox',
    gates: [{ gate: 'sandbox', passed: false, reason, details: { timedOut: true }, seconds: (deliveries * jobTimeoutMs) / 1000 }],
    safetyScore: null,
    compileCached: null,
    isolation: [],
    benchmark: null,
    seconds: (deliveries * jobTimeoutMs) / 1000,
  };
}
