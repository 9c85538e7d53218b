/** The archive of attempts, the ledger of applied changes and the warm-start memory. */
export { AttemptCostStore } from './attempt-costs.js';
export { BaselineStore } from './baselines.js';
export { ConvergenceStore } from './convergence.js';
export { Archive, INTERRUPTED_REASON, LEGACY_INTERRUPTED, REFERENCE_GENERATOR } from './archive.js';
export { GENESIS_HASH, ledgerEntryHash, fingerprintHash, sourceSha256 } from './canonical-hash.js';
export { IN_MEMORY } from './database.js';
export { ArchiveError } from './errors.js';
export { FINGERPRINT_FIELDS, machineFingerprint, parseCpuInfo, withHash } from './fingerprint.js';
export { Ledger } from './ledger.js';
export { MAX_RUN_SAMPLES, RunStore, downsampleRun } from './runs.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './schema.js';
export { WarmStartStore, fingerprintDifferences } from './warm-start.js';
export type * from './types.js';
