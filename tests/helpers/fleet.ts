/**
 * Shared pieces of the fleet tests: a machine fingerprint that is not this
 * machine's (the tests decide which members match), verdicts without a
 * gauntlet run, and a kernel module file to pass as built.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withHash } from '../../ts/archive/fingerprint.js';
import type { MachineFingerprint } from '../../ts/archive/types.js';
import type { GauntletVerdict } from '../../ts/gauntlet/types.js';

export function testFingerprint(cpuModel = 'fleet test CPU'): MachineFingerprint {
  return withHash({
    cpuModel,
    cpuFlags: ['avx2', 'fma'],
    compilerVersion: 'g++ (test) 12.2.0',
    buildFlags: ['-O3', '-march=test'],
    march: 'test',
    caches: 'L1d 32K',
    nodeVersion: process.version,
    arch: process.arch,
  });
}

/** A file standing for a built module, with `content` as its bytes. */
export function moduleFile(content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-fleet-module-'));
  const file = path.join(dir, 'candidate.so');
  writeFileSync(file, content);
  return file;
}

/** An accepted verdict whose compile gate built `modulePath`, with a benchmark ratio on the target lattice. */
export function acceptedVerdict(modulePath: string | null, ratio = 0.8): GauntletVerdict {
  return {
    interrupted: false,
    accepted: true,
    improves: true,
    failedGate: null,
    gates: [
      { gate: 'static', passed: true, reason: '', details: {}, seconds: 0 },
      { gate: 'compile', passed: true, reason: '', details: { modulePath, cached: false }, seconds: 0 },
      { gate: 'sandbox', passed: true, reason: '', details: {}, seconds: 0 },
    ],
    safetyScore: 1,
    compileCached: false,
    isolation: [],
    benchmark: {
      wins: true,
      lattices: [
        {
          lattice: 'target',
          extents: [64, 64],
          steps: 8,
          samples: 5,
          candidateMedianNs: 80,
          incumbentMedianNs: 100,
          ratio,
          ratioLow: ratio,
          ratioHigh: ratio,
          pValue: 0.01,
          verdict: 'faster',
        },
      ],
      overhead: [],
    },
    seconds: 0,
  };
}

/** The verdict the gauntlet gives when its signal aborted it. */
export function interruptedVerdict(): GauntletVerdict {
  return { ...acceptedVerdict(null), interrupted: true, accepted: false, improves: false, gates: [], benchmark: null };
}
