/**
 * The candidate gauntlet: untrusted kernel sources go through a patch gate,
 * a static firewall, a hardened compile, a symbol allowlist and a confined
 * sandbox run (oracle differential, invariants, dojo, benchmark).
 */
export { evaluateCandidate } from './pipeline.js';
export type { CandidateOptions } from './options.js';
export { GauntletPool } from './pool.js';
export { GATES } from './types.js';
export type {
  BenchmarkStatistics,
  BenchmarkSummary,
  GateName,
  GateVerdict,
  GauntletVerdict,
  InfrastructureFailure,
  IsolationLayer,
  Precision,
  Slot,
} from './types.js';
export { patchGate } from './patch-gate.js';
export { staticFirewall } from './static-firewall.js';
export { sourceFindings } from './source-rules.js';
export { hardenedCompile, HARDENED_FLAGS } from './compile.js';
export { symbolAllowlist, ALLOWED_SYMBOLS } from './symbols.js';
export { runSandbox, sandboxRunnerPath } from './sandbox-run.js';
export { interpretRun } from './interpret.js';
export { decodeReport, ReportDecodeError } from './report.js';
export { compareTimes, mannWhitneyP, bootstrapRatioInterval, median } from './statistics.js';
