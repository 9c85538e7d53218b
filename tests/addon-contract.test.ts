/**
 * The C++ core addon has no type generator (node-addon-api), so its types in
 * native/addon-types.ts are written by hand. This file ties them to the built
 * addon in two halves: the lists below must name exactly the keys of the
 * hand-written types (checked by the compiler, `npm run lint`), and the
 * loaded addon must export exactly the lists (checked here). A method added
 * on one side only fails one of the two. The Rust addons need no such test:
 * their types are the `.d.ts` napi-rs generates (scripts/build-napi.mjs).
 */
import { describe, expect, it } from 'vitest';
import type { CoreAddon, CoreLattice, CoreLoadRefusal } from '../dist/native/addon-types.js';
import { coreAddon } from '../dist/native/loader.js';

/** `true` when `Listed` holds every key of `Keys` and nothing else, else `never` (and the assignment below fails to compile). */
type ListsExactly<Listed extends readonly PropertyKey[], Keys> = [Exclude<Keys, Listed[number]>] extends [never]
  ? [Exclude<Listed[number], Keys>] extends [never]
    ? true
    : never
  : never;

type FunctionKeys<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];
type ValueKeys<T> = Exclude<keyof T, FunctionKeys<T>>;

const CORE_ADDON_EXPORTS = [
  'LatticeCore',
  'elfDefect',
  'execImage',
  'kernelAbiVersion',
  'listenPrivateSocket',
  'loadKernelModule',
  'openKernelHostChannel',
  'peerCredentials',
  'streamTriad',
  'streamTriadAsync',
  'threadCpuNs',
] as const;

const CORE_LATTICE_METHODS = [
  'addProfileCounters',
  'armConeProbe',
  'canary',
  'cancelCanaries',
  'close',
  'connectKernelHost',
  'copySnapshot',
  'deferSnapshots',
  'directSteps',
  'field',
  'fpRestores',
  'levels',
  'levelsAsync',
  'memoryTriad',
  'memoryTriadAsync',
  'openKernelHostWorkspace',
  'pause',
  'previousField',
  'profile',
  'profileCounters',
  'readout',
  'readoutAsync',
  'recover',
  'resetProfile',
  'resume',
  'resumeBatchSteps',
  'rollback',
  'run',
  'setConeTakeRate',
  'setFpRestore',
  'setProbe',
  'setProbeWholeLevel',
  'setState',
  'settleConeProbe',
  'settleSnapshot',
  'slots',
  'step',
  'stepCopy',
  'stepCopyAsync',
  'stop',
  'swap',
  'takeConeProbe',
  'takeTrace',
  'traceSteps',
  'views',
  'waitForBoundary',
  'watchdogCounters',
  'widenedLevelsAsync',
] as const;

/** Read-only properties: accessors on the prototype. */
const CORE_LATTICE_ACCESSORS = ['batchSteps', 'kernelName', 'paused', 'running', 'stepCount'] as const;

const addonListed: ListsExactly<typeof CORE_ADDON_EXPORTS, keyof CoreAddon> = true;
const methodsListed: ListsExactly<typeof CORE_LATTICE_METHODS, FunctionKeys<CoreLattice>> = true;
const accessorsListed: ListsExactly<typeof CORE_LATTICE_ACCESSORS, ValueKeys<CoreLattice>> = true;

describe('the core addon against its hand-written types', () => {
  it('lists every key of the types (a compile-time check)', () => {
    expect([addonListed, methodsListed, accessorsListed]).toEqual([true, true, true]);
  });

  it('exports exactly what CoreAddon declares', () => {
    expect(Object.keys(coreAddon()).sort()).toEqual([...CORE_ADDON_EXPORTS].sort());
  });

  it('gives a LatticeCore exactly the methods and accessors CoreLattice declares', () => {
    const prototype = coreAddon().LatticeCore.prototype as object;
    const descriptors = Object.entries(Object.getOwnPropertyDescriptors(prototype)).filter(([name]) => name !== 'constructor');
    const methods = descriptors.filter(([, descriptor]) => typeof descriptor.value === 'function').map(([name]) => name);
    const accessors = descriptors.filter(([, descriptor]) => descriptor.get !== undefined).map(([name]) => name);
    expect(methods.sort()).toEqual([...CORE_LATTICE_METHODS].sort());
    expect(accessors.sort()).toEqual([...CORE_LATTICE_ACCESSORS].sort());
  });

  it('refuses a kernel module with data: the path and the reason apart', () => {
    const file = '/nonexistent/kernel.so';
    const refusal = coreAddon().loadKernelModule(file) as CoreLoadRefusal;
    expect(refusal.refused.path).toBe(file);
    expect(refusal.refused.reason).toBe('cannot open the file: No such file or directory');
  });

  it("gives the JS thread's CPU time: moved by work, never ahead of the wall clock", () => {
    const { threadCpuNs } = coreAddon();
    const wallBefore = process.hrtime.bigint();
    const before = threadCpuNs();
    let sum = 0;
    for (let i = 0; i < 2_000_000; i++) sum += Math.sqrt(i);
    const cpuNs = threadCpuNs() - before;
    const wallNs = Number(process.hrtime.bigint() - wallBefore);
    expect(sum).toBeGreaterThan(0);
    expect(cpuNs).toBeGreaterThan(0);
    // One thread's CPU time cannot run ahead of the wall clock (a process-wide clock, counting the pool, could).
    expect(cpuNs).toBeLessThanOrEqual(wallNs);
  });
});
