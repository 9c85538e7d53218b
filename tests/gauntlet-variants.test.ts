// Correct candidates: each passes every gate, and its benchmark verdict is
// the one its own statistics give. Whether the faster kernel wins and the
// slower one loses on this machine is a live measurement, decided in
// tests/slow/gauntlet-speed.test.ts (`npm run test:slow`), not here.
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, GauntletPool, type GauntletVerdict } from '@ouroboros-engine/core';

const variant = (name: string) => readFileSync(path.resolve('tests/fixtures/variants', `${name}.cpp`), 'utf8');

describe('correct variants', () => {
  const verdicts: Record<string, GauntletVerdict> = {};

  beforeAll(async () => {
    const pool = new GauntletPool(2);
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-variants-cache-'));
    const [copy, slow, fast, readout] = await Promise.all([
      evaluateCandidate({ source: variant('reference-copy'), pool, cacheDir }),
      evaluateCandidate({ source: variant('slow'), pool, cacheDir }),
      evaluateCandidate({ source: variant('rows-fast'), pool, cacheDir }),
      evaluateCandidate({ source: variant('reference-copy'), slot: 'readout', pool, cacheDir }),
    ]);
    // The same module as candidate and incumbent: reference.so is built by
    // CMake at -O2 and candidates by the compile gate at -O3, so the copy's
    // source is the reference's but its machine code is not, and it can be
    // measurably faster than reference.so.
    const copyModule = (copy.gates.find((g) => g.gate === 'compile')!.details as { modulePath: string }).modulePath;
    const itself = await evaluateCandidate({ source: variant('reference-copy'), incumbent: copyModule, pool, cacheDir });
    Object.assign(verdicts, { copy, slow, fast, readout, itself });
    await pool.close();
  }, 300_000);

  it('passes every gate, in order, with a safety score and the isolation layers', () => {
    for (const [name, verdict] of Object.entries(verdicts)) {
      expect(
        verdict.gates.map((g) => [g.gate, g.passed]),
        name,
      ).toEqual(['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench'].map((gate) => [gate, true]));
      expect(verdict.accepted).toBe(true);
      expect(verdict.safetyScore).toBeGreaterThanOrEqual(0.8);
      expect(verdict.isolation.find((layer) => layer.name === 'seccomp')?.active).toBe(true);
    }
  });

  it('gives each lattice the verdict its own statistics support, and improves only on a win on both', () => {
    for (const [name, verdict] of Object.entries(verdicts)) {
      const lattices = verdict.benchmark!.lattices;
      expect(
        lattices.map((l) => l.lattice),
        name,
      ).toEqual(['target', 'held-out']);
      expect(lattices[0]!.extents).toEqual([128, 128]);
      for (const l of lattices) {
        expect(l.ratio, name).toBeCloseTo(l.candidateMedianNs / l.incumbentMedianNs, 12);
        expect(l.ratioLow, name).toBeLessThanOrEqual(l.ratioHigh);
        expect(l.pValue, name).toBeGreaterThan(0);
        expect(l.pValue, name).toBeLessThanOrEqual(1);
        // compareTimes' rule (tested with given samples in gauntlet-gates.test.ts), read back from the verdict.
        const expected = l.pValue < 0.05 && l.ratioHigh < 0.97 ? 'faster' : l.pValue < 0.05 && l.ratioLow > 1.03 ? 'slower' : 'indistinguishable';
        expect(l.verdict, `${name} ${l.lattice}`).toBe(expected);
      }
      expect(verdict.improves, name).toBe(lattices.every((l) => l.verdict === 'faster'));
    }
  });

  it('draws the held-out lattice for every evaluation and records it, and the steps per call, in the verdict', () => {
    const drawn = Object.values(verdicts)
      .filter((v) => v.benchmark)
      .map((verdict) => {
        const bench = verdict.gates.find((g) => g.gate === 'bench')!.details as { heldOutExtents: number[]; stepsPerCall: number };
        expect(bench.stepsPerCall).toBe(1);
        expect(verdict.benchmark!.lattices[1]!.extents).toEqual(bench.heldOutExtents);
        expect(bench.heldOutExtents).toHaveLength(2);
        for (const extent of bench.heldOutExtents) expect(extent % 2).toBe(1);
        return bench.heldOutExtents.join('x');
      });
    // Each evaluation draws its own seed, and its lattice with it.
    expect(new Set(drawn).size).toBeGreaterThan(1);
    expect(verdicts.fast!.isolation.find((layer) => layer.name === 'pages')?.detail).toMatch(/pages/);
    // What the split costs beside the channel: the buffers copied into and out of the stopped worker per command.
    for (const overhead of verdicts.fast!.benchmark!.overhead) expect(overhead.copyUsPerCommand).toBeGreaterThan(0);
  });
});
