/**
 * Whether a source is the variant generator's rendering of a genome: the
 * one test both the engine (which kernels may run in its own process,
 * ts/engine/trust.ts) and the gauntlet (which sources may take their
 * template's analysis, ts/gauntlet/template-analysis.ts) rely on. A
 * rendering is recognised by its content, not by who proposed it: the
 * genome renders back to exactly the source, so every line of it is the
 * project's template code with the genome's values filled in. Nothing a
 * candidate says about itself decides it.
 */
import type { VariantGenome } from './genome.js';
import { renderKernel } from './render.js';

/** Whether `source` is the variant generator's rendering of `genome`. */
export function isTrustedSource(source: string, genome: Record<string, unknown> | null | undefined): boolean {
  if (genome === null || genome === undefined) return false;
  try {
    return renderKernel(genome as unknown as VariantGenome) === source;
  } catch {
    // A genome the renderer refuses rendered nothing, so it cannot vouch for the source.
    return false;
  }
}
