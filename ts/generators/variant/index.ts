/** The variant generator: a genome over kernel shapes, rendered to C++ and bred by mutation and crossover. */
export { defaultGenome, type GeneName, type GeneSpec, genomeFeatures, genomeKey, genomeSpace, validateGenome, type VariantGenome } from './genome.js';
export { crossover, mutate, sample } from './operators.js';
export { kernelName, renderKernel } from './render.js';
export { RandomSearchGenerator, VARIANT_OPERATORS, VariantGenerator } from './variant-generator.js';
