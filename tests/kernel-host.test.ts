// The confined kernel host: an untrusted module steps the live lattice from a
// child process that maps the lattice's state segment, bitwise as it would
// in-process; a host that crashes, hangs or lies is a watchdog event that
// rolls the slot back and restores the last verified snapshot.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, ModuleRefusedError } from '@ouroboros-engine/core';
import { kernelModulePath } from '../dist/native/loader.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { sameBits } from './helpers/bits.js';
import { until } from './helpers/until.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function seeded(sharedState: boolean, extents = [48, 40], precision: 'f64' | 'f32' = 'f64') {
  const lat = new Lattice({ extents, dt: 0.6, threads: 2, precision, sharedState });
  lattices.push(lat);
  const state = randomState(lat, 7);
  lat.setState(state.previous, state.current);
  return lat;
}

describe('a confined module', () => {
  it('steps the live segment from its kernel host, bitwise as the same kernel in-process', async () => {
    for (const precision of ['f64', 'f32'] as const) {
      const confined = seeded(true, [48, 40], precision);
      const local = seeded(false, [48, 40], precision);
      const id = await confined.loadConfinedModule(kernelModulePath('reference_twin'));
      expect(confined.isConfined(id)).toBe(true);
      // The same bytes share one live host.
      expect(await confined.loadConfinedModule(kernelModulePath('reference_twin'))).toBe(id);
      const info = confined.moduleInfo(id) as { confined?: boolean; layers?: { name: string; active: boolean }[] };
      expect(info.confined).toBe(true);
      expect(info.layers?.find((layer) => layer.name === 'landlock')).toBeDefined();
      await confined.swap('step', id);
      expect(confined.kernelName).toBe('reference-twin');
      confined.step(1);
      confined.step(7);
      local.step(8);
      expect(sameBits(confined.field(), local.field())).toBe(true);
      expect(sameBits(confined.previousField(), local.previousField())).toBe(true);
    }
  });

  it('runs under the runner and a watchdog, one command per step, and swaps back without a lost step', async () => {
    const confined = seeded(true);
    const local = seeded(false);
    const id = await confined.loadConfinedModule(kernelModulePath('reference_twin'));
    // No step budget: a loaded machine could spend one before the swap and the rollback arrive.
    const run = confined.run({ watchdog: { everySteps: 50 } });
    const on = await confined.swap('step', id);
    const off = await confined.rollback('step');
    expect(off.appliedAtStep).toBeGreaterThan(on.appliedAtStep);
    await confined.stop();
    const summary = await run;
    expect(summary.error).toBeNull();
    const steps = summary.endStep;
    expect(confined.stepCount).toBe(steps);
    local.step(steps);
    expect(sameBits(confined.field(), local.field())).toBe(true);
    expect(confined.profile().step.steps).toBe(steps);
  });

  it('serves the readout slot from its host, digit for digit as in-process, and is refused without a watchdog while running and on a private lattice', async () => {
    const confined = seeded(true);
    const id = await confined.loadConfinedModule(kernelModulePath('reference_twin'));
    const inProcess = confined.readout();
    await confined.swap('readout', id);
    expect(confined.slots().readout.live.hostPid).toBeGreaterThan(0);
    expect(Buffer.from(confined.readout()).equals(Buffer.from(inProcess))).toBe(true);
    // The live level is read in place; the checks read it too, through the host.
    expect(confined.checkInvariants().ok).toBe(true);
    await confined.rollback('readout');
    const run = confined.run();
    expect(() => confined.swap('step', id)).toThrow(/no watchdog/);
    expect(() => confined.swap('readout', id)).toThrow(/no watchdog/);
    await confined.stop();
    await run;
    const privateLattice = seeded(false);
    await expect(privateLattice.loadConfinedModule(kernelModulePath('reference_twin'))).rejects.toThrow(/sharedState: true/);
  });

  it("is self-tested at load through its host, on the lattice's own size, against the oracle", async () => {
    const confined = seeded(true);
    // Steps correctly on lattices under 256 cells, which the in-process self-test uses; freezes the field on larger ones.
    const error = await confined.loadConfinedModule('build/test-kernels/misbehaving_FreezeField.so').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModuleRefusedError);
    expect((error as Error).message).toMatch(
      /misbehaving_FreezeField\.so: self-test failed: after 3 steps on a 48x40 f64 lattice the module differs from the Rust oracle/,
    );
  });

  it("is self-tested off the JS thread: the event loop turns while the host is in the self-test's step", async () => {
    const module = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-spin-first-')), 'spin-first.so');
    execFileSync('g++', [
      '-std=c++17',
      '-O2',
      '-fPIC',
      '-shared',
      '-DSPIN_AFTER_CALLS=0',
      '-Icpp/include',
      'tests/fixtures/kernel-host/spin-after-five.cpp',
      '-o',
      module,
    ]);
    const confined = seeded(true);
    const events: string[] = [];
    const load = confined.loadConfinedModule(module, { stepTimeoutMs: 2000 }).then(
      () => events.push('loaded'),
      () => events.push('refused'),
    );
    // This process's running kernel hosts, with the CPU ticks they have used;
    // the module spins in the self-test's first step until the core times it out.
    const hostTicks = (): number[] =>
      readdirSync('/proc/self/task')
        .flatMap((task) => readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
        .flatMap((pid) => {
          try {
            if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('ouroboros-kern')) return [];
            const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
            // Still running: a host the core has killed keeps its ticks as a zombie until it is reaped.
            return fields[0] === 'R' ? [Number(fields[11]) + Number(fields[12])] : [];
          } catch {
            return [];
          }
        });
    // A host that has spun for 20 ticks (0.2 s of CPU) is in the self-test's step: loading takes a few.
    const watcher = setInterval(() => {
      if (!events.includes('host spinning') && hostTicks().some((ticks) => ticks >= 20)) events.push('host spinning');
    }, 10);
    await load;
    clearInterval(watcher);
    expect(events).toEqual(['host spinning', 'refused']);
  });

  it('runs in the canary on copies of the live state, as candidate and as incumbent, and the canary refuses it when it differs', async () => {
    const confined = seeded(true);
    const twin = await confined.loadConfinedModule(kernelModulePath('reference_twin'));
    const asCandidate = await confined.canary('step', twin, { steps: 10 });
    expect(asCandidate.maxAbsDifference).toBe(0);
    expect(asCandidate.candidate).toBe('reference-twin');
    const before = Buffer.from(confined.field().buffer.slice(0));
    await confined.swap('step', twin);
    const rows = await confined.loadModule(kernelModulePath('rows'));
    const asIncumbent = await confined.canary('step', rows, { steps: 10 });
    expect(asIncumbent.incumbent).toBe('reference-twin');
    expect(asIncumbent.maxAbsDifference).toBeLessThan(1e-9);
    expect(Buffer.from(confined.field().buffer).equals(before)).toBe(true);
    const readout = await confined.canary('readout', twin, { steps: 4 });
    expect(readout.maxAbsDifference).toBe(0);
    // Correct for its first 40 steps (the self-test takes 3), NaN after.
    const nanAfter = await confined.loadConfinedModule('build/test-kernels/misbehaving_NanAfter.so');
    await confined.rollback('step');
    const refused = await confined.canary('step', nanAfter, { steps: 50 });
    expect(refused.maxAbsDifference > 1e-9 || Number.isNaN(refused.maxAbsDifference)).toBe(true);
  });

  it("is refused with the host's reason when the file is not a kernel", async () => {
    const confined = seeded(true);
    const error = await confined.loadConfinedModule('build/test-kernels/broken_NullTable.so').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModuleRefusedError);
    expect((error as Error).message).toMatch(/broken_NullTable\.so: the kernel host exited with code 3: ouro_kernel_entry returned a null table/);
  });
});

describe('a checkpoint of a lattice with a confined module live', () => {
  it("carries the module's confinement: the resumed lattice steps it in a new host, bitwise as a run that never stopped", async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-confined-checkpoint-')), 'confined.ouro');
    const original = seeded(true);
    const local = seeded(false);
    const id = await original.loadConfinedModule(kernelModulePath('reference_twin'));
    await original.swap('step', id);
    original.step(20);
    original.checkpoint(file);
    const resumed = await Lattice.resume(file);
    lattices.push(resumed);
    expect(resumed.handoff!.warnings).toEqual([]);
    const live = resumed.slots().step.live;
    expect(live.name).toBe('reference-twin');
    expect(resumed.isConfined(live.id)).toBe(true);
    // The core steps it through a host of its own: a new process, alive, not the original's.
    const originalHost = original.slots().step.live.hostPid!;
    expect(live.hostPid).toBeGreaterThan(0);
    expect(live.hostPid).not.toBe(originalHost);
    expect(() => process.kill(live.hostPid!, 0)).not.toThrow();
    resumed.step(30);
    local.step(50);
    expect(sameBits(resumed.field(), local.field())).toBe(true);
    expect(sameBits(resumed.previousField(), local.previousField())).toBe(true);
  });

  it('keeps it confined in a spawned successor, which starts a host of its own', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-confined-restart-')), 'successor.json');
    const original = seeded(true);
    const id = await original.loadConfinedModule(kernelModulePath('reference_twin'));
    await original.swap('step', id);
    const originalHost = original.slots().step.live.hostPid!;
    const run = original.run({ watchdog: { everySteps: 10 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await original.restart({ mode: 'spawn', command: [path.resolve('tests/fixtures/handoff/successor.mjs'), out, '10'] });
    await run;
    // The successor renames its report into place once it is whole (fixtures/handoff/successor.mjs).
    await until(() => existsSync(out));
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toMatchObject({ resumedAt: report.frozenAtStep, stepCount: report.frozenAtStep + 10 });
    expect(seen.handoff.warnings).toEqual([]);
    expect(seen.liveModules.step).toBe('reference-twin');
    expect(seen.stepConfined).toBe(true);
    expect(seen.stepHostPid).toBeGreaterThan(0);
    expect(seen.stepHostPid).not.toBe(originalHost);
    const local = seeded(false);
    local.step(report.frozenAtStep + 10);
    expect(Buffer.from(seen.current, 'base64').equals(Buffer.from(local.field().buffer))).toBe(true);
  });
});
