/**
 * `evaluateCandidate`: one candidate kernel through every gate, in order,
 * stopping at the first that fails. Every verdict says which gate, why, and
 * how long it took; the result is data, never a throw, except for invalid
 * options (a caller's bug).
 */
import { withToolsHeld } from './background.js';
import { hardenedCompile } from './compile.js';
import { type CandidateOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { patchGate } from './patch-gate.js';
import { sharedGauntletPool } from './pool.js';
import { runSandbox, sandboxRunnerPath } from './sandbox-run.js';
import { symbolAllowlist } from './symbols.js';
import type { GateVerdict, GauntletVerdict } from './types.js';

async function timed<D extends object>(
  work: () => Promise<Omit<GateVerdict<D>, 'seconds'>> | Omit<GateVerdict<D>, 'seconds'>,
): Promise<GateVerdict<D>> {
  const start = performance.now();
  const verdict = await work();
  return { ...verdict, seconds: (performance.now() - start) / 1000 };
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

async function runGates(options: ResolvedOptions, started: number): Promise<GauntletVerdict> {
  const gates: GateVerdict[] = [];
  const pool = options.pool ?? sharedGauntletPool();
  const { signal } = options;
  const aborted = () => signal?.aborted === true;
  if (aborted()) return interrupted(gates, started);

  const patch = await timed(() => patchGate({ source: options.source, targetPath: options.targetPath }));
  gates.push(patch);
  if (!patch.passed) return finish(gates, started);

  const firewall = await timed(() => pool.staticFirewall(options.source, options.safetyThreshold, options.includeDir, signal));
  if (aborted()) return interrupted(gates, started);
  gates.push(firewall);
  const safetyScore = firewall.details.safetyScore;
  if (!firewall.passed) return finish(gates, started, { safetyScore });

  const compile = await timed(() =>
    hardenedCompile(options.source, { ...options, timeoutMs: options.compileTimeoutMs, ...(signal ? { signal } : {}) }),
  );
  if (aborted()) return interrupted(gates, started, { safetyScore });
  gates.push(compile);
  const compileCached = compile.details.cached;
  if (!compile.passed || compile.details.modulePath === null) return finish(gates, started, { safetyScore, compileCached });

  const modulePath = compile.details.modulePath;
  const symbols = await timed(() => symbolAllowlist(modulePath));
  gates.push(symbols);
  if (!symbols.passed) return finish(gates, started, { safetyScore, compileCached });

  // The run ends with the benchmark: the other candidates' compiles and analyses wait while it has the cores.
  // A run still queued when the signal aborts never starts.
  const sandbox = async () => aborted() ? null : withToolsHeld(() => runSandbox({
    runnerPath: options.runnerPath ?? sandboxRunnerPath(),
    candidatePath: modulePath,
    incumbentPath: options.incumbent,
    slot: options.slot,
    seed: options.seed,
    precision: options.precision,
    targetExtents: options.targetExtents,
    heldOutExtents: options.heldOutExtents,
    benchSteps: options.benchSteps,
    benchSamples: options.benchSamples,
    dojoWaves: options.dojoWaves,
    threads: options.threads,
    cpuSeconds: options.cpuSeconds,
    memoryMiB: options.memoryMiB,
    timeoutMs: options.sandboxTimeoutMs,
    ...(signal ? { signal } : {}),
  }));
  const outcome = await (options.sandboxQueue ? options.sandboxQueue.run(sandbox) : sandbox());
  if (outcome === null || aborted()) return interrupted(gates, started, { safetyScore, compileCached });
  const interpretation = await pool.interpret(outcome);
  gates.push(...interpretation.gates);
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
export async function evaluateCandidate(options: CandidateOptions): Promise<GauntletVerdict> {
  const started = performance.now();
  return runGates(resolveOptions(options), started);
}


