// The ELF gate's syscall scan and trust. g++ put `cd 80` (int 0x80) inside
// an instruction of some of the variant generator's renderings: the SIB byte
// and displacement of `lea 0x80(,%r9,8),%rdx`. A trusted rendering (its
// genome renders back to it, as the gauntlet checks itself) is not refused
// for such a pair; the same module from any other source still is.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, GauntletPool } from '@ouroboros-engine/core';
import { renderKernel, type VariantGenome } from '../dist/ts/generators/variant/index.js';
import { symbolAllowlist } from '../dist/ts/gauntlet/symbols.js';

/** That module as the compile gate built it on this project's machine (g++ 12, -march=znver3); the Rust ELF gate test reads it too. */
const committedModule = path.resolve('crates/gatekeeper/tests/fixtures/variant-lea-cd-80.so');
/** The genome it was rendered from: uniformly sampled, one of 4 of the first 55 samples the scan refused before. */
const genome = JSON.parse(readFileSync(path.resolve('tests/fixtures/variants/lea-cd-80.genome.json'), 'utf8')) as VariantGenome;

describe('the symbol gate on a pair inside an instruction', () => {
  it('refuses it from an untrusted source', async () => {
    const verdict = await symbolAllowlist(committedModule);
    expect(verdict.passed).toBe(false);
    expect(verdict.details.rules).toEqual(['syscall-bytes']);
    expect(verdict.reason).toBe('executable code holds `int 0x80` at file offset 0x14db');
  });

  it('lets it through in a trusted rendering', async () => {
    const verdict = await symbolAllowlist(committedModule, { trustedRendering: true });
    expect(verdict).toMatchObject({ passed: true, reason: '' });
    expect(verdict.details.problems).toEqual([]);
  });
});

describe('the gauntlet on the rendering', () => {
  const pool = new GauntletPool(2);
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-syscall-scan-cache-'));
  afterAll(() => pool.close());

  it('passes the compile and symbol gates when the genome comes with it', async () => {
    // A runner that fails at once: the gates before the sandbox are what is tested.
    const verdict = await evaluateCandidate({
      source: renderKernel(genome),
      genome: genome as unknown as Record<string, unknown>,
      pool,
      cacheDir,
      runnerPath: '/bin/false',
    });
    expect(verdict.gates.map((gate) => [gate.gate, gate.passed, gate.reason])).toEqual([
      ['patch', true, ''],
      ['static', true, ''],
      ['compile', true, ''],
      ['symbols', true, ''],
      ['sandbox', false, expect.any(String)],
    ]);
  }, 300_000);

  it('scans strictly a source that comes with a genome it is not the rendering of', async () => {
    // A syscall hidden in an immediate: what the trusted policy would let through, claimed as this genome's.
    const hostile = readFileSync(path.resolve('tests/fixtures/hostile/syscall-in-immediate.cpp'), 'utf8');
    const verdict = await evaluateCandidate({
      source: hostile,
      genome: genome as unknown as Record<string, unknown>,
      pool,
      cacheDir,
      runnerPath: '/bin/false',
    });
    expect(verdict.failedGate).toBe('symbols');
    expect((verdict.gates.find((gate) => gate.gate === 'symbols')!.details as { rules: string[] }).rules).toEqual(['syscall-bytes']);
  }, 300_000);
});
