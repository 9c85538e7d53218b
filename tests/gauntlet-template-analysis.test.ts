// The variant generator's template is analysed once: its covering
// renderings hold every value of every gene, the committed analysis is the
// current template's and what the analysers find on it, a trusted rendering's
// static gate takes its findings from it, and anything else, even a source
// that differs from a rendering by one line, still goes through the analysers.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, GauntletPool, type GauntletVerdict } from '@ouroboros-engine/core';
import { packageRoot } from '../dist/native/loader.js';
import { genomeSpace, renderKernel, type VariantGenome } from '../dist/ts/generators/variant/index.js';
import { COVERING_GENOMES, templateHash } from '../dist/ts/generators/variant/template-cover.js';
import { LINT_CONFIGURATION } from '../dist/ts/gauntlet/lint.js';
import type { StaticDetails } from '../dist/ts/gauntlet/static-firewall.js';
import {
  analyseTemplate,
  committedTemplateAnalysis,
  type TemplateAnalysis,
  TemplateAnalyses,
  templateFindings,
} from '../dist/ts/gauntlet/template-analysis.js';

const includeDir = path.join(packageRoot, 'cpp', 'include');
const REGENERATE = 'regenerate it with `npm run build:ts && node scripts/analyse-templates.mjs` and commit ts/gauntlet/template-analysis.json';

/** A rendering without what every genome changes anyway: the header's genome and the kernel's name. */
function body(genome: VariantGenome): string {
  return renderKernel(genome)
    .replace(/^\/\*[\s\S]*?\*\/\n/, '')
    .replace(/"variant-[0-9a-f]{8}"/, '"variant"');
}

function staticDetails(verdict: GauntletVerdict): StaticDetails {
  return verdict.gates.find((gate) => gate.gate === 'static')!.details as StaticDetails;
}

describe('the covering renderings', () => {
  it('hold every value of every gene where it changes the code', () => {
    const missing: string[] = [];
    for (const gene of genomeSpace) {
      for (const value of gene.values) {
        const effective = COVERING_GENOMES.some(
          (genome) =>
            genome[gene.name] === value &&
            gene.values.some((other) => other !== value && body({ ...genome, [gene.name]: other } as VariantGenome) !== body(genome)),
        );
        if (!effective) missing.push(`${gene.name} = ${String(value)}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the committed template analysis', () => {
  it("is the current template's, made with the current checks", () => {
    const committed = committedTemplateAnalysis();
    expect(committed, `no committed analysis: ${REGENERATE}`).not.toBeNull();
    expect(committed!.templateHash, `the template changed: ${REGENERATE}`).toBe(templateHash());
    expect(committed!.configuration, `the analysers' checks changed: ${REGENERATE}`).toBe(LINT_CONFIGURATION);
    expect(committed!.renderings.map((r) => r.genome)).toEqual(COVERING_GENOMES);
    expect(committed!.unavailable).toEqual([]);
  });

  it('is what clang-tidy and cppcheck find on the covering renderings', async () => {
    const made = await analyseTemplate(includeDir);
    expect(made.unavailable, 'both analysers must be installed to check the committed analysis').toEqual([]);
    expect(made.renderings, `the analysers find something else: ${REGENERATE}`).toEqual(committedTemplateAnalysis()!.renderings);
  }, 900_000);
});

describe('a template whose committed analysis is stale', () => {
  const finding = { tool: 'cppcheck' as const, id: 'knownConditionTrueFalse', severity: 'style', line: 7, message: 'Condition is always true', penalty: 0.02 };
  const synthetic = (findings: TemplateAnalysis['renderings'][number]['findings']): TemplateAnalysis => ({
    templateHash: templateHash(),
    configuration: LINT_CONFIGURATION,
    analyserVersions: { 'clang-tidy': 'test', cppcheck: 'test' },
    unavailable: [],
    renderings: COVERING_GENOMES.map((genome, i) => ({ genome, findings: i === 2 ? findings : [] })),
  });
  const staleFile = () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouroboros-stale-')), 'template-analysis.json');
    writeFileSync(file, JSON.stringify({ ...committedTemplateAnalysis(), templateHash: 'an older template' }));
    return file;
  };
  const versions = () => Promise.resolve({ 'clang-tidy': 'test', cppcheck: 'test' });

  it('is analysed once, in the background, kept in the build cache and found there by the next process', async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-template-cache-'));
    const committedFile = staleFile();
    let analyses = 0;
    const analyse = () => {
      analyses += 1;
      return Promise.resolve(synthetic([finding]));
    };
    const first = new TemplateAnalyses({ committedFile, analyse, versions });
    expect(first.current(cacheDir, includeDir)).toBeNull();
    expect(first.current(cacheDir, includeDir)).toBeNull();
    await first.settled(cacheDir);
    expect(analyses).toBe(1);
    expect(first.current(cacheDir, includeDir)).toEqual({ templateHash: templateHash(), findings: [finding], unavailable: [] });
    expect(readdirSync(cacheDir).filter((name) => name.startsWith('template-analysis-'))).toHaveLength(1);

    const next = new TemplateAnalyses({ committedFile, analyse: () => Promise.reject(new Error('must not analyse again')), versions });
    expect(next.current(cacheDir, includeDir)).toBeNull();
    await next.settled(cacheDir);
    expect(next.current(cacheDir, includeDir)?.findings).toEqual([finding]);
  });

  it('keeps no analysis in which an analyser was stopped at its limits', async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-template-cache-'));
    const stopped = {
      tool: 'clang-tidy' as const,
      id: 'analyser-stopped',
      severity: 'error',
      line: 0,
      message: 'clang-tidy was stopped at its time or memory limit',
      penalty: 1,
    };
    const analyses = new TemplateAnalyses({ committedFile: staleFile(), analyse: () => Promise.resolve(synthetic([stopped])), versions });
    expect(analyses.current(cacheDir, includeDir)).toBeNull();
    await analyses.settled(cacheDir);
    expect(analyses.current(cacheDir, includeDir)).toBeNull();
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe('the static gate of a rendering', () => {
  const pool = new GauntletPool(2);
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-template-cache-'));
  // A runner that fails at once: these verdicts need the gates before the sandbox, not a benchmark.
  const quick = { pool, cacheDir, runnerPath: '/bin/false' };
  const genome = COVERING_GENOMES[3]!;
  const rendering = renderKernel(genome);
  afterAll(() => pool.close());

  it("takes the template's findings for a source its genome renders to exactly", async () => {
    const verdict = await evaluateCandidate({ source: rendering, genome: genome as unknown as Record<string, unknown>, ...quick });
    const details = staticDetails(verdict);
    expect(details.stages).toEqual(['rules', 'preprocess', 'template-analysis']);
    expect(details.templateHash).toBe(templateHash());
    expect(details.lintFindings).toEqual(templateFindings(committedTemplateAnalysis()!).findings);
    expect(verdict.gates.map((gate) => [gate.gate, gate.passed])).toEqual([
      ['patch', true],
      ['static', true],
      ['compile', true],
      ['symbols', true],
      ['sandbox', false],
    ]);
  });

  it("runs the analysers on a source one line away from its genome's rendering", async () => {
    const almost = `${rendering}static_assert(sizeof(double) == 8, "a line the template does not have");\n`;
    const verdict = await evaluateCandidate({ source: almost, genome: genome as unknown as Record<string, unknown>, ...quick });
    const details = staticDetails(verdict);
    expect(details.stages).toEqual(['rules', 'preprocess', 'analysers']);
    expect(details.templateHash).toBeNull();
    expect(verdict.gates.map((gate) => gate.gate)).toEqual(['patch', 'static', 'compile', 'symbols', 'sandbox']);
  });
});
