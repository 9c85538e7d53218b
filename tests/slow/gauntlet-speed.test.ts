// Live speed decisions (`npm run test:slow`, not part of `npm test`): the
// sandbox's benchmark, run for real on this machine, calls the slower
// variant slower, the faster one faster, and a copy of the incumbent no
// improvement. On a loaded machine these measurements can go either way,
// so they decide nothing in CI; the rule that turns samples into a verdict
// is tested with given samples in tests/gauntlet-gates.test.ts.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, GauntletPool, type GauntletVerdict } from '@ouroboros-engine/core';

const variant = (name: string) => readFileSync(path.resolve('tests/fixtures/variants', `${name}.cpp`), 'utf8');

describe('the sandbox benchmark on this machine', () => {
  const verdicts: Record<string, GauntletVerdict> = {};

  beforeAll(async () => {
    const pool = new GauntletPool(2);
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-speed-cache-'));
    const [copy, slow, fast] = await Promise.all([
      evaluateCandidate({ source: variant('reference-copy'), pool, cacheDir }),
      evaluateCandidate({ source: variant('slow'), pool, cacheDir }),
      evaluateCandidate({ source: variant('rows-fast'), pool, cacheDir }),
    ]);
    const copyModule = (copy.gates.find((g) => g.gate === 'compile')!.details as { modulePath: string }).modulePath;
    const itself = await evaluateCandidate({ source: variant('reference-copy'), incumbent: copyModule, pool, cacheDir });
    Object.assign(verdicts, { slow, fast, itself });
    await pool.close();
  }, 300_000);

  it('loses the benchmark when slower and wins it when faster', () => {
    expect(verdicts.slow!.improves).toBe(false);
    expect(verdicts.slow!.benchmark!.lattices.map((l) => l.verdict)).toEqual(['slower', 'slower']);
    expect(verdicts.fast!.improves).toBe(true);
    expect(verdicts.fast!.benchmark!.lattices.map((l) => [l.lattice, l.verdict])).toEqual([
      ['target', 'faster'],
      ['held-out', 'faster'],
    ]);
    const target = verdicts.fast!.benchmark!.lattices[0]!;
    expect(target.ratioHigh).toBeLessThan(1);
    expect(target.pValue).toBeLessThan(0.05);
  });

  it('does not call a copy of the incumbent an improvement', () => {
    expect(verdicts.itself!.improves).toBe(false);
    expect(verdicts.itself!.benchmark!.lattices.map((l) => l.verdict)).not.toContain('faster');
  });
});
