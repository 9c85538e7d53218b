import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, ModuleRefusedError, NodeModuleShim } from '@ouroboros-engine/core';
import { nativeDirectories, targetTriple } from '../dist/native/loader.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { sameBits } from './helpers/bits.js';

const nodeKernel = (name: string) => path.join(nativeDirectories().at(-1)!, 'kernels', targetTriple(), `${name}.node`);
const v1 = nodeKernel('node_reference_v1');
const v2 = nodeKernel('node_reference_v2');
const newShim = () => new NodeModuleShim({ cacheDir: mkdtempSync(path.join(os.tmpdir(), 'ouro-node-modules-')), trustNativeAddon: true });

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function seeded() {
  const lat = new Lattice({ extents: [40, 36], dt: 0.6, threads: 2 });
  lattices.push(lat);
  const state = randomState(lat, 11);
  lat.setState(state.previous, state.current);
  return lat;
}

describe('the .node shim', () => {
  it('loads nothing unless its creator trusts the addons: Node code cannot run confined', async () => {
    const shim = new NodeModuleShim({ cacheDir: mkdtempSync(path.join(os.tmpdir(), 'ouro-node-modules-')) });
    const refused = await shim.load(v1).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ModuleRefusedError);
    expect((refused as ModuleRefusedError).reason).toMatch(/Node code and cannot run confined.*trustNativeAddon: true/);
    expect(shim.newest).toBeNull();
    expect(shim.versionsMapped).toBe(0);
  });

  it('routes calls to the newest version, through functions taken before the swap too', async () => {
    const shim = newShim();
    expect(shim.newest).toBeNull();
    expect(() => shim.addon.describe()).toThrow('addon.describe: no version is loaded yet: call shim.load(file) first');
    const first = await shim.load(v1);
    expect(first).toMatchObject({ version: 1, source: v1, description: { name: 'node-reference-v1', abiVersion: 1, version: '1' } });
    expect(first.cachedPath).toBe(path.join(shim.cacheDir, `${first.sha256}.so`));
    const describeBefore = shim.addon.describe;
    expect(describeBefore().version).toBe('1');
    const second = await shim.load(v2);
    expect(second.version).toBe(2);
    expect(shim.addon.describe()).toEqual({ name: 'node-reference-v2', abiVersion: 1, version: '2' });
    expect(describeBefore().version).toBe('2');
    expect(shim.newest).toEqual(second);
  });

  it('counts the versions still mapped: reloading known bytes maps nothing new', async () => {
    const shim = newShim();
    await shim.load(v1);
    await shim.load(v2);
    expect(shim.versionsMapped).toBe(2);
    // A copy elsewhere has the same content address.
    const copy = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-node-copy-')), 'again.node');
    writeFileSync(copy, readFileSync(v1));
    const again = await shim.load(copy);
    expect(again.version).toBe(1);
    expect(shim.versionsMapped).toBe(2);
    expect(shim.addon.describe().version).toBe('1');
    expect(shim.versions().map((version) => version.description.name)).toEqual(['node-reference-v1', 'node-reference-v2']);
  });

  it("hot-swaps the .node's kernel into a running lattice; the state stays bitwise equal to a run without swaps", async () => {
    const shim = newShim();
    const swapped = seeded();
    const plain = seeded();
    await shim.load(v1);
    const first = await shim.loadKernel(swapped);
    await shim.load(v2);
    const second = await shim.loadKernel(swapped);
    expect(swapped.moduleInfo(second).name).toBe('node-reference-v2');
    // No step budget: a loaded machine could spend one before the swaps are made.
    const run = swapped.run();
    let swaps = 0;
    while (swaps < 200) {
      const result = await swapped.swap('step', swaps % 2 === 0 ? first : second);
      if (!result.firstStepRan) break;
      swaps++;
    }
    expect(swaps).toBe(200);
    await swapped.stop();
    const steps = (await run).endStep;
    expect(swapped.stepCount).toBe(steps);
    plain.step(steps);
    expect(sameBits(swapped.field() as Float64Array, plain.field() as Float64Array)).toBe(true);
    expect(sameBits(swapped.previousField() as Float64Array, plain.previousField() as Float64Array)).toBe(true);
    expect(shim.versionsMapped).toBe(2);
  });

  it('refuses a bad .node with the file and the reason, keeping the newest version and the host alive', async () => {
    const shim = newShim();
    await shim.load(v2);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-bad-node-'));
    const text = path.join(dir, 'text.node');
    writeFileSync(text, 'module.exports = {}\n');
    const refusals: Array<[string, RegExp]> = [
      [text, /not an ELF file/i],
      [path.resolve('build/test-kernels/node_crash_on_init.node'), /N-API initialisation killed the probe process with SIGABRT/],
      [nodeKernel('missing'), /no such file/],
      // A kernel module with no N-API side, and an addon with no kernel.
      [path.join(nativeDirectories().at(-1)!, 'kernels', targetTriple(), 'reference.so'), /Node cannot load it as an addon/],
      [path.join(nativeDirectories().at(-1)!, `ouroboros_oracle.${targetTriple()}.node`), /no ouro_kernel_entry symbol/],
    ];
    for (const [file, reason] of refusals) {
      const error = await shim.load(file).then(
        () => null,
        (refusal: unknown) => refusal,
      );
      expect(error, file).toBeInstanceOf(ModuleRefusedError);
      expect((error as ModuleRefusedError).file).toBe(path.resolve(file));
      expect((error as ModuleRefusedError).reason).toMatch(reason);
    }
    expect(shim.versionsMapped).toBe(1);
    expect(shim.addon.describe().version).toBe('2');
  });
});
