// energyAsync() never waits for the runner on the JS thread: the runner
// copies the levels at its next boundary and the oracle sums them off the
// event loop. The live kernel here holds its step while a file says so, so
// the test, not a clock, decides when the runner reaches its next boundary.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lattice } from '@ouroboros-engine/core';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { until } from './helpers/until.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-energy-async-'));
const lattices: Lattice[] = [];

afterAll(() => {
  for (const lat of lattices) lat.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The reference kernel, except that while `hold` exists a step first writes
 * `entered` and waits for `hold` to go. It waits 30 s at most and then writes
 * `gave-up`: a JS thread that waited for this step is released in the end,
 * and the test fails rather than hangs.
 */
function holdingKernel(hold: string, entered: string, gaveUp: string): string {
  const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
  const signature = 'int32_t wave_step(const ouro_host*, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {';
  if (!reference.includes(signature)) throw new Error('reference-copy.cpp no longer has the wave_step this test patches');
  const includes = '#include <chrono>\n#include <cstdio>\n#include <thread>\n#include <unistd.h>\n';
  const holdSource = `
static void touch(const char* file) {
  if (std::FILE* handle = std::fopen(file, "w")) std::fclose(handle);
}
static void hold_while_asked() {
  if (access("${hold}", F_OK) != 0) return;
  touch("${entered}");
  for (int waitedMs = 0; waitedMs < 30000 && access("${hold}", F_OK) == 0; ++waitedMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (access("${hold}", F_OK) == 0) touch("${gaveUp}");
}
`;
  const source = path.join(dir, 'holding.cpp');
  writeFileSync(source, includes + reference.replace(signature, `${holdSource}\n${signature}\n  hold_while_asked();`));
  const output = path.join(dir, 'holding.so');
  execFileSync('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-ffp-contract=off', '-Icpp/include', source, '-o', output]);
  return output;
}

describe('energyAsync', () => {
  it('returns while the runner is inside a step, and sums the levels of its next boundary', async () => {
    const hold = path.join(dir, 'hold');
    const entered = path.join(dir, 'entered');
    const gaveUp = path.join(dir, 'gave-up');
    const lat = new Lattice({ extents: [48, 40], dt: 0.6, threads: 2 });
    lattices.push(lat);
    const state = randomState(lat, 7);
    lat.setState(state.previous, state.current);
    const atStart = lat.energy();
    const holding = await lat.loadModule(holdingKernel(hold, entered, gaveUp));
    const run = lat.run();
    await lat.swap('step', holding);
    writeFileSync(hold, '');
    await until(() => existsSync(entered));

    const energy = lat.energyAsync();
    // Before the fix the call copied the levels on this thread, at the runner's next boundary: after the hold gave up.
    const stepStillHeld = !existsSync(gaveUp);
    rmSync(hold);
    expect(stepStillHeld).toBe(true);
    expect(Math.abs((await energy) - atStart) / atStart).toBeLessThan(1e-9);
    await lat.stop();
    await run;
  });
});
