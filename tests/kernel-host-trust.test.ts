// Trust is decided once, in TypeScript (ts/engine/trust.ts): the variant
// generator's renderings of its own templates run in-process, everything
// else runs live only in a kernel host. These check the decision and that
// the engine's live changes follow it.
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, defaultGenome, renderKernel } from '@ouroboros-engine/core';
import { kernelModulePath } from '../dist/native/loader.js';
import { LiveChanges } from '../dist/ts/engine/live-changes.js';
import { measureSlot } from '../dist/ts/engine/watch.js';
import { isTrustedSource, needsConfinedModules } from '../dist/ts/engine/trust.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

describe('the trust decision', () => {
  it('trusts a source only when its genome renders back to it byte for byte', () => {
    const genome = defaultGenome() as unknown as Record<string, unknown>;
    const source = renderKernel(defaultGenome());
    expect(isTrustedSource(source, genome)).toBe(true);
    expect(isTrustedSource(`${source}\n`, genome)).toBe(false);
    expect(isTrustedSource(source.replace('ouro_kernel_entry', 'ouro_kernel_entry '), genome)).toBe(false);
    expect(isTrustedSource(source, null)).toBe(false);
    expect(isTrustedSource(source, { ...genome, unroll: 'not a gene value' })).toBe(false);
  });

  it('asks for a shared-memory lattice only for generators that propose untrusted kernels', () => {
    expect(needsConfinedModules({ generator: { kind: 'variant' } } as never)).toBe(false);
    expect(needsConfinedModules({ generator: { kind: 'random' } } as never)).toBe(false);
    expect(needsConfinedModules({ generator: { kind: 'llm' } } as never)).toBe(true);
  });

  it('has the engine load an untrusted winner confined, in either slot, and a trusted one in-process', async () => {
    const lat = new Lattice({ extents: [48, 40], dt: 0.6, threads: 2, sharedState: true });
    lattices.push(lat);
    const state = randomState(lat, 3);
    lat.setState(state.previous, state.current);
    const entries: unknown[] = [];
    const ledger = { append: (entry: object) => (entries.push(entry), { ...entry, seq: entries.length }) as never };
    const settings = {
      canarySteps: 10,
      canaryTolerance: 1e-9,
      watchWindowMs: 100,
      watchMinSteps: 5,
      maxDegradation: 0.99,
      driftTolerance: 1e-9,
      trialWindowMs: 100,
      trialMinSteps: 3,
      trialMaxPairs: 4,
      trialMinGain: 0.03,
      trialMaxSlowerLiveMs: 400,
    };
    const hooks = { phase() {}, applied() {}, rolledBack() {}, incumbentLost() {} };
    // No step goes through the readout slot, so its windows are given (a measurement injected, not taken).
    const readoutWindow = { steps: 10, kernelNs: 1e6, wallMs: 100, mlups: 1 };
    const measure = (slot: 'step' | 'readout', options: Parameters<typeof measureSlot>[2]) =>
      slot === 'readout' ? Promise.resolve(readoutWindow) : measureSlot(lat, slot, options);
    const live = new LiveChanges(lat, ledger, settings, hooks, measure);
    const base = lat.slots().step.live;
    for (const slot of ['step', 'readout'] as const) live.adopt({ slot, attemptId: 0, moduleId: base.id, modulePath: base.path, moduleSha256: '', speedup: 1 });
    const run = lat.run({ watchdog: { everySteps: 20 } });
    const request = { slot: 'step' as const, speedup: 1, action: 'apply' as const, reason: 'test' };
    const untrusted = await live.change({
      ...request,
      attemptId: 1,
      modulePath: kernelModulePath('reference_twin'),
      speedJudge: { by: 'benchmark' as const, judgedAgainst: 0 },
      trusted: false,
    });
    expect(untrusted.status, untrusted.reason).toBe('applied');
    expect(lat.isConfined(live.incumbents.get('step')!.moduleId)).toBe(true);
    const trusted = await live.change({
      ...request,
      attemptId: 2,
      modulePath: kernelModulePath('rows'),
      speedJudge: { by: 'benchmark' as const, judgedAgainst: 1 },
      trusted: true,
    });
    expect(trusted.status, trusted.reason).toBe('applied');
    expect(lat.isConfined(live.incumbents.get('step')!.moduleId)).toBe(false);
    const readout = await live.change({
      ...request,
      slot: 'readout',
      attemptId: 3,
      modulePath: kernelModulePath('reference_twin'),
      speedJudge: { by: 'benchmark' as const, judgedAgainst: 0 },
      trusted: false,
    });
    expect(readout.status, readout.reason).toBe('applied');
    expect(lat.isConfined(live.incumbents.get('readout')!.moduleId)).toBe(true);
    live.dispose();
    await lat.stop();
    await run;
  }, 60_000);
});
