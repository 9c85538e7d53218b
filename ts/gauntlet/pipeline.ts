/**
 * `evaluateCandidate`: one candidate kernel through every gate, stopping at
 * the first that fails. Every verdict says which gate, why, and how long it
 * took; the result is data, never a throw, except for invalid options (a
 * caller's bug).
 *
 * The order: the patch gate; the static firewall's screen (source rules,
 * confined preprocessor), which nothing else may pass over; then the
 * analysers, or a trusted rendering's template findings, beside the compile
 * and the symbol gate; then the sandbox run, which waits for both. The
 * verdict lists the gates in their order whatever finished first: a source
 * the analysers refuse ends at the static gate, and the compile that ran
 * beside them is left out of it.
 */
import { isTrustedSource } from '../generators/variant/trust.js';
import { withToolsHeld } from './background.js';
import { hardenedCompile } from './compile.js';
import { RECHECK_SAMPLES, reuseKnownIncumbent, sharedIncumbentTimings, type TimingKey } from './incumbent-timings.js';
import type { Interpretation } from './interpret.js';
import { type CandidateOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { patchGate } from './patch-gate.js';
import { type GauntletPool, sharedGauntletPool } from './pool.js';
import { decodeReport } from './report.js';
import { type RunnerOptions, type RunnerOutcome, runSandbox, sandboxRunnerPath } from './sandbox-run.js';
import type { Screening, StaticDetails } from './static-firewall.js';
import { symbolAllowlist } from './symbols.js';
import { sharedTemplateAnalyses, type TemplateFindings } from './template-analysis.js';
import type { GateName, GateVerdict, GauntletVerdict } from './types.js';
import { fileSha256 } from '../util/sha256.js';

/**
 * A gate began or ended (with its verdict): what a display shows of an
 * attempt in the gauntlet. The static and compile gates run side by side,
 * so two may be under way at once; the sandbox run yields the sandbox, dojo
 * and bench verdicts together, when it ends.
 */
export type GateProgress = { gate: GateName; state: 'started' } | { gate: GateName; state: 'finished'; passed: boolean; reason: string };

/** Told of each gate as it begins and ends; an interrupted gate has no end. */
export type GateProgressListener = (progress: GateProgress) => void;

async function timed<D extends object>(work: () => Promise<Omit<GateVerdict<D>, 'seconds'>> | Omit<GateVerdict<D>, 'seconds'>): Promise<GateVerdict<D>> {
  const start = performance.now();
  const verdict = await work();
  return { ...verdict, seconds: (performance.now() - start) / 1000 };
}

function finished(onGate: GateProgressListener, verdict: GateVerdict): void {
  onGate({ gate: verdict.gate, state: 'finished', passed: verdict.passed, reason: verdict.reason });
}

function finish(gates: GateVerdict[], started: number, extra: Partial<GauntletVerdict> = {}): GauntletVerdict {
  const failed = gates.find((gate) => !gate.passed);
  const accepted = failed === undefined;
  const benchmark = extra.benchmark ?? null;
  return {
    interrupted: false,
    accepted,
    improves: accepted && benchmark?.wins === true,
    failedGate: failed?.gate ?? null,
    gates,
    safetyScore: extra.safetyScore ?? null,
    compileCached: extra.compileCached ?? null,
    isolation: extra.isolation ?? [],
    benchmark,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The gates that ended before the signal aborted; the one it cut short says nothing and is left out. */
function interrupted(gates: GateVerdict[], started: number, extra: Partial<GauntletVerdict> = {}): GauntletVerdict {
  return { ...finish(gates, started, extra), interrupted: true, accepted: false, improves: false, failedGate: null };
}

/**
 * The template's findings for a trusted rendering (the source is the
 * variant generator's rendering of the genome given with it); null for
 * every other source, or while the template's analysis is still being made.
 */
function templateFor(options: ResolvedOptions, trustedRendering: boolean): TemplateFindings | null {
  if (!trustedRendering) return null;
  return sharedTemplateAnalyses().current(options.cacheDir, options.includeDir);
}

interface Build {
  gates: GateVerdict[];
  modulePath: string | null;
  compileCached: boolean | null;
}

/** The compile gate, then the symbol gate on what it built. */
async function build(options: ResolvedOptions, trustedRendering: boolean, onGate: GateProgressListener): Promise<Build> {
  const { signal } = options;
  onGate({ gate: 'compile', state: 'started' });
  const compile = await timed(() => hardenedCompile(options.source, { ...options, timeoutMs: options.compileTimeoutMs, ...(signal ? { signal } : {}) }));
  finished(onGate, compile);
  const compileCached = compile.details.cached;
  const modulePath = compile.details.modulePath;
  if (!compile.passed || modulePath === null) return { gates: [compile], modulePath: null, compileCached };
  onGate({ gate: 'symbols', state: 'started' });
  const symbols = await timed(() => symbolAllowlist(modulePath, { trustedRendering }));
  finished(onGate, symbols);
  return { gates: [compile, symbols], modulePath: symbols.passed ? modulePath : null, compileCached };
}

/** What the incumbent's target-lattice time depends on, for a module's bytes. */
function timingKey(options: ResolvedOptions, modulePath: string): TimingKey {
  return {
    moduleSha256: fileSha256(modulePath),
    slot: options.slot,
    precision: options.precision,
    extents: options.targetExtents,
    benchSteps: options.benchSteps,
    stepsPerCall: options.stepsPerCall,
    threads: options.threads,
  };
}

/**
 * The interpretation with the store's known incumbent times counted in the
 * target comparison (incumbent-timings.ts), and a candidate that passed
 * every gate remembered as an incumbent: if it goes live, the next screen
 * re-checks its times instead of measuring them again.
 */
function withKnownIncumbent(interpretation: Interpretation, outcome: RunnerOutcome, key: TimingKey, candidatePath: string): Interpretation {
  const target = interpretation.benchmark === null ? undefined : decodeReport(outcome.stdout).bench.find((b) => b.lattice === 'target');
  if (interpretation.benchmark === null || target === undefined) return interpretation;
  const timings = sharedIncumbentTimings();
  const { benchmark, reuse } = reuseKnownIncumbent(interpretation.benchmark, target, key, timings);
  const gates = interpretation.gates.map((gate) =>
    gate.gate === 'bench' ? { ...gate, details: { ...gate.details, benchmark, incumbentTimes: reuse } } : gate,
  );
  if (gates.every((gate) => gate.passed)) timings.record({ ...key, moduleSha256: fileSha256(candidatePath) }, target.candidateNs);
  return { ...interpretation, gates, benchmark };
}

/** The patch gate: the candidate's source against the file it patches. */
async function patchStep(options: ResolvedOptions, onGate: GateProgressListener): Promise<GateVerdict> {
  onGate({ gate: 'patch', state: 'started' });
  const patch = await timed(() => patchGate({ source: options.source, targetPath: options.targetPath }));
  finished(onGate, patch);
  return patch;
}

interface Screened {
  screening: Screening;
  seconds: number;
}

/** The static firewall's screen (source rules, confined preprocessor), timed: the static gate's verdict counts it with the analysers' time. */
async function screen(pool: GauntletPool, options: ResolvedOptions, onGate: GateProgressListener): Promise<Screened> {
  onGate({ gate: 'static', state: 'started' });
  const start = performance.now();
  const screening = await pool.screen(options.source, options.safetyThreshold, options.includeDir, options.signal);
  return { screening, seconds: (performance.now() - start) / 1000 };
}

/**
 * The analysers beside the build: the static gate's verdict (the screen's
 * time counted in) and what the compile and symbol gates made.
 *
 * The analysers' half minute to a minute is the longest gate of an
 * untrusted source, and the compiler is as confined as they are: the two
 * overlap. The sandbox run waits for both: it ends in the benchmark, which
 * the live job pays for, and it stops the analysers (withToolsHeld) while
 * it runs, so beside it they would gain nothing.
 */
async function analyseBesideBuild(
  pool: GauntletPool,
  options: ResolvedOptions,
  screened: Screened,
  onGate: GateProgressListener,
): Promise<{ firewall: GateVerdict<StaticDetails>; built: Build }> {
  // Checked here, by rendering the genome again: what the candidate says of itself decides nothing.
  const trustedRendering = isTrustedSource(options.source, options.genome);
  const [analysed, built] = await Promise.all([
    timed(() => pool.analyse(options.source, screened.screening.details, options.includeDir, templateFor(options, trustedRendering), options.signal)),
    build(options, trustedRendering, onGate),
  ]);
  return { firewall: { ...analysed, seconds: screened.seconds + analysed.seconds }, built };
}

/** The incumbent's timed samples: a few to re-check when the store knows its times (incumbent-timings.ts), else all of them. */
function incumbentSamplesFor(options: ResolvedOptions, key: TimingKey | null): number {
  const known = key !== null && sharedIncumbentTimings().get(key) !== null;
  return known ? Math.min(RECHECK_SAMPLES, options.incumbentSamples) : options.incumbentSamples;
}

/** What the sandbox runner is asked to do with a built candidate. */
function runnerOptions(options: ResolvedOptions, modulePath: string, incumbentSamples: number): RunnerOptions {
  return {
    runnerPath: options.runnerPath ?? sandboxRunnerPath(),
    candidatePath: modulePath,
    incumbentPath: options.incumbent,
    slot: options.slot,
    seed: options.seed,
    precision: options.precision,
    targetExtents: options.targetExtents,
    heldOutExtents: options.heldOutExtents,
    heldOutCells: options.heldOutCells,
    liveExtents: options.liveExtents,
    liveCourant2: options.liveCourant2,
    stepsPerCall: options.stepsPerCall,
    maxBatchSteps: options.maxBatchSteps,
    benchSteps: options.benchSteps,
    benchSamples: options.benchSamples,
    incumbentSamples,
    incumbentStopRatio: options.incumbentStopRatio,
    dojoWaves: options.dojoWaves,
    threads: options.threads,
    cpuSeconds: options.cpuSeconds,
    memoryMiB: options.memoryMiB,
    timeoutMs: options.sandboxTimeoutMs,
    priority: options.sandboxPriority,
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/**
 * The sandbox run, through the sandbox queue when there is one: null when
 * the signal aborted while it was still queued, for then it never starts.
 * The run ends with the benchmark: the other candidates' compiles and
 * analyses wait (withToolsHeld) while it has the cores.
 */
async function sandboxStep(
  options: ResolvedOptions,
  modulePath: string,
  incumbentSamples: number,
  onGate: GateProgressListener,
): Promise<RunnerOutcome | null> {
  const run = async () =>
    options.signal?.aborted === true
      ? null
      : withToolsHeld(() => {
          onGate({ gate: 'sandbox', state: 'started' });
          return runSandbox(runnerOptions(options, modulePath, incumbentSamples));
        });
  return options.sandboxQueue ? options.sandboxQueue.run(run) : run();
}

/** The sandbox, dojo and bench verdicts of a run, with the store's known incumbent times when the options reuse them. */
async function interpretRun(pool: GauntletPool, outcome: RunnerOutcome, key: TimingKey | null, modulePath: string): Promise<Interpretation> {
  const interpreted = await pool.interpret(outcome);
  return key === null ? interpreted : withKnownIncumbent(interpreted, outcome, key, modulePath);
}

/** The gates in their order, ending at the first that fails or when the signal aborts. */
async function runGates(options: ResolvedOptions, started: number, onGate: GateProgressListener): Promise<GauntletVerdict> {
  const gates: GateVerdict[] = [];
  const pool = options.pool ?? sharedGauntletPool();
  const aborted = () => options.signal?.aborted === true;
  if (aborted()) return interrupted(gates, started);

  const patch = await patchStep(options, onGate);
  gates.push(patch);
  if (!patch.passed) return finish(gates, started);

  const screened = await screen(pool, options, onGate);
  if (aborted()) return interrupted(gates, started);
  const { refusal } = screened.screening;
  if (refusal) {
    const verdict = { ...refusal, seconds: screened.seconds };
    gates.push(verdict);
    finished(onGate, verdict);
    return finish(gates, started, { safetyScore: refusal.details.safetyScore });
  }

  const { firewall, built } = await analyseBesideBuild(pool, options, screened, onGate);
  if (aborted()) return interrupted(gates, started);
  gates.push(firewall);
  finished(onGate, firewall);
  const safetyScore = firewall.details.safetyScore;
  if (!firewall.passed) return finish(gates, started, { safetyScore });
  gates.push(...built.gates);
  const { modulePath, compileCached } = built;
  if (modulePath === null) return finish(gates, started, { safetyScore, compileCached });

  const key = options.reuseIncumbentTimes ? timingKey(options, options.incumbent) : null;
  const outcome = await sandboxStep(options, modulePath, incumbentSamplesFor(options, key), onGate);
  if (outcome === null || aborted()) return interrupted(gates, started, { safetyScore, compileCached });
  const interpretation = await interpretRun(pool, outcome, key, modulePath);
  gates.push(...interpretation.gates);
  for (const gate of interpretation.gates) finished(onGate, gate);
  return finish(gates, started, {
    safetyScore,
    compileCached,
    isolation: interpretation.isolation,
    benchmark: interpretation.benchmark,
  });
}

/**
 * Runs a candidate kernel through the whole gauntlet. The sandbox lends it
 * `threads` threads through parallel_for and times one step per wave_step
 * call, as the live lattice runs it.
 */
export async function evaluateCandidate(options: CandidateOptions, onGate: GateProgressListener = () => undefined): Promise<GauntletVerdict> {
  const started = performance.now();
  return runGates(resolveOptions(options), started, onGate);
}
