import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lattice, ModuleRefusedError } from '@ouroboros-engine/core';
import { kernelModulePath } from '../dist/native/loader.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';

// Every refusal happens while a lattice runs (until stopped); afterwards the
// run must have gone on untouched, bitwise the run that never saw a bad module.
const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-refusals-'));
const testKernel = (name: string) => path.resolve(`build/test-kernels/${name}.so`);
let lat: Lattice;
let run: Promise<unknown>;

function seeded() {
  const lattice = new Lattice({ extents: [24, 20], dt: 0.6, threads: 1 });
  const state = randomState(lattice, 21);
  lattice.setState(state.previous, state.current);
  return lattice;
}

/** A copy of the reference kernel with e_machine (offset 18, little-endian u16) set to `machine`. */
function withMachine(machine: number): string {
  const image = readFileSync(kernelModulePath('reference'));
  image.writeUInt16LE(machine, 18);
  const file = path.join(dir, `machine-${machine}.so`);
  writeFileSync(file, image);
  return file;
}

async function expectRefused(file: string, reason: RegExp, options = {}) {
  const stepsBefore = lat.stepCount;
  const error = await lat.loadModule(file, options).then(
    () => null,
    (refusal: unknown) => refusal,
  );
  expect(error).toBeInstanceOf(ModuleRefusedError);
  const refusal = error as ModuleRefusedError;
  expect(refusal.file).toBe(path.resolve(file));
  expect(refusal.message).toContain(`cannot load kernel module ${path.resolve(file)}: `);
  expect(refusal.reason).toMatch(reason);
  expect(lat.running).toBe(true);
  expect(lat.kernelName).toBe('reference');
  expect(lat.stepCount).toBeGreaterThanOrEqual(stepsBefore);
}

beforeAll(() => {
  lat = seeded();
  run = lat.run();
});

afterAll(() => lat.close());

describe('loadModule refuses, naming the file and the reason, while the live kernel keeps running', () => {
  it('a file that is not an ELF shared object', async () => {
    const text = path.join(dir, 'notes.so');
    writeFileSync(text, 'these are notes, not machine code\n'.repeat(10));
    await expectRefused(text, /^not an ELF file/);
    await expectRefused(path.join(dir, 'missing.so'), /^no such file$/);
  });

  it('the wrong architecture (read from the ELF header, before any dlopen)', async () => {
    await expectRefused(withMachine(183), /^wrong architecture: built for AArch64, this process runs on x86-64$/);
    await expectRefused(withMachine(22), /^wrong architecture: built for s390/);
  });

  it('a missing entry symbol', async () => {
    await expectRefused(testKernel('not_a_kernel'), /no ouro_kernel_entry symbol/);
  });

  it('an ABI version mismatch', async () => {
    await expectRefused(testKernel('broken_WrongAbiVersion'), /^kernel ABI version 2, but this core speaks version 1$/);
  });

  it('a table with null functions, or no table at all', async () => {
    await expectRefused(testKernel('broken_NullWaveStep'), /^kernel table has a null wave_step$/);
    await expectRefused(testKernel('broken_NullReadout'), /^kernel table has a null readout$/);
    await expectRefused(testKernel('broken_NullTable'), /returned a null table$/);
    await expectRefused(testKernel('broken_ShortTable'), /^kernel table is 24 bytes, expected at least 32$/);
  });

  it('a module whose self-test against the oracle fails', async () => {
    await expectRefused(
      testKernel('misbehaving_WrongPhysics'),
      /^self-test failed: after 3 steps on a 7x6 f64 lattice the module differs from the Rust oracle by/,
    );
  });

  it('a module whose constructor crashes: only the probe process dies', async () => {
    await expectRefused(testKernel('hostile_Crash'), /killed the probe process with SIGSEGV/);
  });

  it('a module whose constructor hangs: the probe process is killed after the timeout', async () => {
    await expectRefused(testKernel('hostile_Hang'), /did not finish within 1500 ms in the probe process/, { probeTimeoutMs: 1500 });
  });

  it('and the run went on as if nothing had happened', async () => {
    const copy = path.join(dir, 'reference-copy.so');
    copyFileSync(kernelModulePath('reference'), copy);
    const accepted = await lat.loadModule(copy);
    expect(lat.moduleInfo(accepted).name).toBe('reference');
    await lat.stop();
    await run;
    const plain = seeded();
    plain.step(lat.stepCount);
    expect(Buffer.compare(Buffer.from((lat.field() as Float64Array).buffer), Buffer.from((plain.field() as Float64Array).buffer))).toBe(0);
    plain.close();
  });
});
