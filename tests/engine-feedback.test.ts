// The engine's boundary to its generators: a rejection fed back as a recent
// failure carries the gate and its reason in words, never host text or the
// numbers of a test input (ts/generators/feedback.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import type { CandidateProposal, FailedSibling, GenerationContext, Generator } from '../dist/ts/generators/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-engine-feedback-'));
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');

/** First a candidate that names a host file, then records what it is told. */
class RecordingGenerator implements Generator {
  readonly name = 'recording';
  told: FailedSibling[][] = [];
  async propose(context: GenerationContext): Promise<CandidateProposal> {
    this.told.push(context.recentFailures);
    const source = this.told.length === 1 ? `#include "/etc/passwd"\n${reference}` : `// ${this.told.length}\n${reference}`;
    return { generator: this.name, operator: 'fixture', source, genome: null, prompt: null, costUsd: 0 };
  }
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('feedback from the engine to a generator', () => {
  it('names the gate and the line, and neither the host path nor the threshold', async () => {
    const config = resolveConfig({
      maxConcurrentImprovements: 1,
      archive: { path: path.join(root, 'archive.sqlite'), warmStart: false },
      lattice: { extents: [64, 64] },
      gauntlet: { targetExtents: [64, 64], heldOutExtents: [31, 29], benchSteps: 2, benchSamples: 3, cacheDir: path.join(root, 'cache') },
      log: { file: path.join(root, 'engine.log') },
    });
    const lat = createMainLattice(config.lattice);
    const generator = new RecordingGenerator();
    const engine = new Engine(lat, config, { generator, autoImprove: false });
    try {
      await engine.start();
      const first = await engine.attemptImprovement();
      expect((await engine.attemptFinished(first)).status).toBe('rejected');
      const second = await engine.attemptImprovement();
      await engine.attemptFinished(second);
      const fedBack = generator.told[1]!;
      expect(fedBack).toHaveLength(1);
      expect(fedBack[0]!.gate).toBe('static');
      expect(fedBack[0]!.reason).toMatch(/line 1: #include <<path>> is not one of the allowed headers/);
      expect(fedBack[0]!.reason).not.toMatch(/\/etc\/passwd|0\.8/);
    } finally {
      await engine.stop();
      lat.close();
    }
  }, 240_000);
});
