/**
 * Which kernels may run in the engine's own process, decided once, here.
 *
 * Trusted, in-process: the shipped kernels (cpp/kernels, built with the
 * project) and the variant generator's renderings of its own templates. A
 * rendering is recognised by its content, not by who proposed it: the
 * genome it came with renders back to exactly its source, so every line of
 * it is the project's template code with the genome's values filled in.
 *
 * Everything else is untrusted and runs live only confined, in a kernel host
 * (ts/modules/kernel-host.ts): the LLM generator's sources, a source whose
 * genome does not render back to it, a user's file given to `ouroboros
 * swap`. The gauntlet judged them, but a kernel can recognise the sandbox
 * and wait until it runs live.
 */
import { renderKernel } from '../generators/variant/render.js';
import type { VariantGenome } from '../generators/variant/genome.js';
import type { EngineConfig } from './config.js';

/** Whether `source` is the variant generator's rendering of `genome`. */
export function isTrustedSource(source: string, genome: Record<string, unknown> | null): boolean {
  if (genome === null) return false;
  try {
    return renderKernel(genome as unknown as VariantGenome) === source;
  } catch {
    // A genome the renderer refuses rendered nothing, so it cannot vouch for the source.
    return false;
  }
}

/**
 * Whether the configured generator can propose untrusted kernels, so that
 * the main lattice must keep its state in a shared-memory segment for a
 * kernel host to map (`sharedState: true`).
 */
export function needsConfinedModules(config: Pick<EngineConfig, 'generator'>): boolean {
  return config.generator.kind !== 'variant' && config.generator.kind !== 'random';
}
