/**
 * Ouroboros: a native wave-physics core on an N-dimensional torus.
 *
 *   import { Lattice, nonary } from '@ouroboros-engine/core';
 *
 * This entry loads everything (engine, gauntlet, archive). A program that only
 * steps lattices imports '@ouroboros-engine/core/lattice', which loads none of
 * them; '/engine' and '/gauntlet' are the other parts on their own.
 */
export * from './lattice/index.js';
export * as nonary from './nonary/index.js';
export { evaluateCandidate, GauntletPool } from './gauntlet/index.js';
export type { CandidateOptions, GateVerdict, GauntletVerdict } from './gauntlet/index.js';
export * as engine from './engine/index.js';
export { Engine } from './engine/index.js';
export type { EngineSummary } from './engine/index.js';
export { Archive, Ledger, machineFingerprint } from './archive/index.js';
export type { AttemptRecord, AttemptStatus, LedgerEntry, LedgerVerification } from './archive/index.js';
export { VariantGenerator, RandomSearchGenerator, renderKernel, defaultGenome, validateGenome } from './generators/variant/index.js';
export { LlmGenerator } from './generators/llm/index.js';
export type { LlmGeneratorOptions } from './generators/llm/index.js';
export type { CandidateProposal, GenerationContext, Generator } from './generators/types.js';
export { GeneratorError } from './generators/types.js';
