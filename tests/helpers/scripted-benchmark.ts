/**
 * The real gauntlet with the benchmark's verdict given by the test: every
 * gate runs for real (compile, sandbox, dojo, the bench gate's checks), and
 * the speed the sandbox measured is then replaced by the test's, so that
 * whether a candidate is faster never depends on the machine's load.
 */
import { evaluateCandidate } from '../../dist/ts/gauntlet/pipeline.js';
import { MIN_EFFECT } from '../../dist/ts/gauntlet/statistics.js';
import type { BenchmarkStatistics, GauntletVerdict } from '../../dist/ts/gauntlet/types.js';
import type { GauntletResources } from '../../dist/ts/engine/judge.js';

/** One lattice's statistics at `ratio`, as clear as a benchmark can be: p = 1e-6 and an interval 5% either side. */
function measuredAt(measured: BenchmarkStatistics, ratio: number): BenchmarkStatistics {
  const [ratioLow, ratioHigh] = [ratio * 0.95, ratio * 1.05];
  return {
    ...measured,
    candidateMedianNs: measured.incumbentMedianNs * ratio,
    ratio,
    ratioLow,
    ratioHigh,
    pValue: 1e-6,
    verdict: ratioHigh < 1 - MIN_EFFECT ? 'faster' : ratioLow > 1 + MIN_EFFECT ? 'slower' : 'indistinguishable',
  };
}

/** The verdict with every benchmark lattice at `ratio` (a verdict with no benchmark, rejected before it, is returned as it is). */
function withBenchmark(verdict: GauntletVerdict, ratio: number): GauntletVerdict {
  if (verdict.benchmark === null) return verdict;
  const lattices = verdict.benchmark.lattices.map((lattice) => measuredAt(lattice, ratio));
  const wins = lattices.every((lattice) => lattice.verdict === 'faster');
  return { ...verdict, improves: verdict.accepted && wins, benchmark: { ...verdict.benchmark, wins, lattices } };
}

/** EngineDeps.evaluate: the real gauntlet, whose benchmark reports candidate/incumbent `ratio` on every lattice. */
export function scriptedBenchmark(ratio: number): NonNullable<GauntletResources['evaluate']> {
  return async (options, onGate) => withBenchmark(await evaluateCandidate(options, onGate), ratio);
}
