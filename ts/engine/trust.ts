/**
 * Which kernels may run in the engine's own process, decided here.
 *
 * Trusted, in-process: the shipped kernels (cpp/kernels, built with the
 * project) and the variant generator's renderings of its own templates,
 * recognised by content (ts/generators/variant/trust.ts, the same test the
 * gauntlet uses to give a rendering its template's analysis).
 *
 * Everything else is untrusted and runs live only confined, in a kernel host
 * (ts/modules/kernel-host.ts): the LLM generator's sources, a source whose
 * genome does not render back to it, a user's file given to `ouroboros
 * swap`. The gauntlet judged them, but a kernel can recognise the sandbox
 * and wait until it runs live.
 */
import type { EngineConfig } from './config.js';

export { isTrustedSource } from '../generators/variant/trust.js';

/**
 * Whether the configured generator can propose untrusted kernels, so that
 * the main lattice must keep its state in a shared-memory segment for a
 * kernel host to map (`sharedState: true`).
 */
export function needsConfinedModules(config: Pick<EngineConfig, 'generator'>): boolean {
  return config.generator.kind !== 'variant' && config.generator.kind !== 'random';
}
