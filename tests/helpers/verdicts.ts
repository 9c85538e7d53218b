/** Gauntlet verdicts for tests that inject the gauntlet (EngineDeps.evaluate). */
import { kernelModulePath } from '../../dist/native/loader.js';
import type { GateVerdict, GauntletVerdict } from '../../dist/ts/gauntlet/types.js';

export function passedGate(name: GateVerdict['gate'], details: object = {}): GateVerdict {
  return { gate: name, passed: true, reason: '', details, seconds: 0 };
}

/** An accepted verdict that does not improve, with `overrides` applied. */
export function verdict(overrides: Partial<GauntletVerdict>): GauntletVerdict {
  return {
    interrupted: false,
    accepted: true,
    improves: false,
    failedGate: null,
    gates: [],
    safetyScore: 1,
    compileCached: true,
    isolation: [],
    benchmark: null,
    seconds: 0,
    ...overrides,
  };
}

/** A winner whose module is the shipped rows kernel: faster than the reference on both lattices. */
export function winningVerdict(): GauntletVerdict {
  const lattice = (name: string, extents: number[]) => ({
    lattice: name,
    extents,
    steps: 8,
    samples: 15,
    candidateMedianNs: 1,
    incumbentMedianNs: 2,
    ratio: 0.5,
    ratioLow: 0.45,
    ratioHigh: 0.55,
    pValue: 1e-6,
    verdict: 'faster' as const,
  });
  return verdict({
    improves: true,
    gates: [
      passedGate('patch'),
      passedGate('static'),
      passedGate('compile', { modulePath: kernelModulePath('rows'), cached: true }),
      passedGate('symbols'),
      passedGate('sandbox'),
      passedGate('dojo'),
      passedGate('bench'),
    ],
    benchmark: { wins: true, lattices: [lattice('target', [128, 128]), lattice('held-out', [97, 89])], overhead: [] },
  });
}
