/**
 * The engine's own judgement of a candidate a fleet worker passed. A
 * worker's verdict is its word, and its build is its bytes: a worker
 * compromised on the Redis could answer "passed" for a hostile kernel, or
 * send any module as the build of a trusted rendering, which would then load
 * in the engine's process. So before a remotely passed candidate can go to
 * its live trial the engine checks it here, on its own cores: the static
 * screen (the source rules and the confined preprocessor), its own hardened
 * compile of the source (the build cache's when it has it), the symbol gate
 * on that build, and a sandbox run of that build with a seed the engine
 * draws: the differential (at the live size), the invariants, the dojo, and
 * the benchmark's checks (the probe that ends every sample, the full-state
 * comparison, the recheck). Only this build ever goes live; the worker's
 * bytes are compared with it and reported, never loaded.
 *
 * Left out, because the worker's answer may stand for them: the analysers
 * (a safety score; what they would refuse still meets the rules, the symbol
 * gate and the sandbox here) and the speed screen. The benchmark's samples
 * are the fewest the runner takes, and the candidate's own build stands as
 * the incumbent, so its timings, which nobody reads, cost the candidate's
 * speed rather than the live incumbent's.
 */
import { isTrustedSource } from '../generators/variant/trust.js';
import { withToolsHeld } from '../gauntlet/background.js';
import { hardenedCompile } from '../gauntlet/compile.js';
import { interpretRun } from '../gauntlet/interpret.js';
import { type CandidateOptions, resolveOptions } from '../gauntlet/options.js';
import { runSandbox, sandboxRunnerPath } from '../gauntlet/sandbox-run.js';
import { screenSource } from '../gauntlet/static-firewall.js';
import { symbolAllowlist } from '../gauntlet/symbols.js';
import { GATES, type GateVerdict, type GauntletVerdict } from '../gauntlet/types.js';
import { fileSha256 } from '../util/sha256.js';
import { verdictModulePath, withModulePath } from './evaluation-job.js';

/** The fewest benchmark samples the runner takes: each still ends in a probe. */
const CHECK_SAMPLES = 3;

/** What the engine's local re-verification found. */
export interface Reverification {
  /** The verdict the engine acts on: the worker's, with the engine's build, or refused at the local gate that failed. */
  verdict: GauntletVerdict;
  /** The local gate that failed (its reason names the re-verification), or null. */
  refused: GateVerdict | null;
  /** Whether the worker's module is byte for byte the engine's build; null when either is missing. */
  workerModuleMatches: boolean | null;
  seconds: number;
}

async function timed(work: () => Promise<Omit<GateVerdict, 'seconds'>>): Promise<GateVerdict> {
  const started = performance.now();
  const verdict = await work();
  return { ...verdict, seconds: (performance.now() - started) / 1000 };
}

/** The local gates in order, stopping at the first that fails; the module is the engine's build. */
async function localGates(options: CandidateOptions): Promise<{ gates: GateVerdict[]; modulePath: string | null; interrupted: boolean }> {
  const resolved = resolveOptions({ ...options, seed: undefined, benchSamples: CHECK_SAMPLES });
  const { signal } = resolved;
  const aborted = () => signal?.aborted === true;
  const gates: GateVerdict[] = [];
  const stop = (interrupted = aborted()) => ({ gates, modulePath: null, interrupted });
  const screened = await timed(async () => {
    const screening = await screenSource(resolved.source, {
      threshold: resolved.safetyThreshold,
      includeDir: resolved.includeDir,
      ...(signal ? { signal } : {}),
    });
    return screening.refusal ?? { gate: 'static', passed: true, reason: '', details: screening.details };
  });
  gates.push(screened);
  if (aborted() || !screened.passed) return stop();
  const compile = await timed(() => hardenedCompile(resolved.source, { ...resolved, timeoutMs: resolved.compileTimeoutMs, ...(signal ? { signal } : {}) }));
  gates.push(compile);
  const modulePath = (compile.details as { modulePath?: string | null }).modulePath ?? null;
  if (aborted() || !compile.passed || modulePath === null) return stop();
  // Decided here by rendering the genome again, as the gauntlet does: the worker's word decides nothing.
  const symbols = await timed(() => symbolAllowlist(modulePath, { trustedRendering: isTrustedSource(resolved.source, resolved.genome) }));
  gates.push(symbols);
  if (aborted() || !symbols.passed) return stop();
  const sandbox = async () =>
    aborted()
      ? null
      : withToolsHeld(() =>
          runSandbox({
            ...resolved,
            runnerPath: resolved.runnerPath ?? sandboxRunnerPath(),
            candidatePath: modulePath,
            incumbentPath: modulePath,
            timeoutMs: resolved.sandboxTimeoutMs,
          }),
        );
  const outcome = await (resolved.sandboxQueue ? resolved.sandboxQueue.run(sandbox) : sandbox());
  if (outcome === null || aborted()) return stop(true);
  gates.push(...interpretRun(outcome).gates);
  return { gates, modulePath, interrupted: false };
}

/** The engine's verdict on the local gate that refused a worker's pass: the worker's gates before it, then it. */
function refusedVerdict(remote: GauntletVerdict, failed: GateVerdict, workerId: string, modulePath: string | null, seconds: number): GauntletVerdict {
  const position = GATES.indexOf(failed.gate);
  const local: GateVerdict = {
    ...failed,
    reason: `local re-verification of worker ${workerId}'s pass: ${failed.reason}`,
    details: { ...failed.details, reverifiedLocally: true, workerId },
  };
  const before = remote.gates.filter((gate) => GATES.indexOf(gate.gate) < position);
  return {
    ...withModulePath({ ...remote, gates: [...before, local] }, modulePath),
    accepted: false,
    improves: false,
    failedGate: failed.gate,
    seconds: remote.seconds + seconds,
  };
}

/**
 * Checks a verdict a worker (`workerId`) gave for `options` on this machine
 * before anything of it can run live: see the file's comment.
 */
export async function reverifyLocally(options: CandidateOptions, remote: GauntletVerdict, workerId: string): Promise<Reverification> {
  const started = performance.now();
  const { gates, modulePath, interrupted } = await localGates(options);
  const seconds = (performance.now() - started) / 1000;
  const workerModule = verdictModulePath(remote);
  const workerModuleMatches = modulePath === null || workerModule === null ? null : fileSha256(modulePath) === fileSha256(workerModule);
  if (interrupted) {
    return { verdict: { ...remote, interrupted: true, accepted: false, improves: false, failedGate: null }, refused: null, workerModuleMatches, seconds };
  }
  const failed = gates.find((gate) => !gate.passed);
  if (failed !== undefined) {
    return { verdict: refusedVerdict(remote, failed, workerId, modulePath, seconds), refused: failed, workerModuleMatches, seconds };
  }
  return { verdict: { ...withModulePath(remote, modulePath), seconds: remote.seconds + seconds }, refused: null, workerModuleMatches, seconds };
}
