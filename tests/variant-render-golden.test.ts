// The renderer composes kernels from cpp/variant/'s fragments, and every
// rendering is byte for byte what the fixture recorded: the archive's
// kernels, the template hash, the cached template analysis and the trust
// check's recognition of our own renderings all rest on those bytes, so a
// template change is deliberate and re-records the fixture (and the cached
// analysis) with it. The fixture holds the SHA-256 of the covering genomes'
// renderings and of 300 genomes sampled from seededRandom(20).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderKernel, validateGenome } from '../dist/ts/generators/variant/index.js';
import { COVERING_GENOMES, templateHash } from '../dist/ts/generators/variant/template-cover.js';

interface GoldenRenderings {
  templateHash: string;
  renderings: { genome: string; sha256: string }[];
}

const golden = JSON.parse(readFileSync(new URL('./fixtures/variants/render-golden.json', import.meta.url), 'utf8')) as GoldenRenderings;
const COVERING_COUNT = 11;
const SAMPLED_COUNT = 300;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('variant renderings are the recorded ones', () => {
  it('holds the covering genomes first, then the sampled ones', () => {
    expect(golden.renderings).toHaveLength(COVERING_COUNT + SAMPLED_COUNT);
    expect(COVERING_GENOMES).toHaveLength(COVERING_COUNT);
  });

  it('renders every golden genome to the recorded bytes', () => {
    const changed = golden.renderings
      .filter(({ genome, sha256: recorded }) => sha256(renderKernel(validateGenome(JSON.parse(genome)))) !== recorded)
      .map(({ genome }) => genome);
    expect(changed).toEqual([]);
  });

  it('keeps the template hash the cached analysis was made for', () => {
    expect(templateHash()).toBe(golden.templateHash);
  });
});
