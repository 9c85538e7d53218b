// `ouroboros simulate --kernel <file>`: the user's file is untrusted, so a
// `.so` runs confined in a kernel host, never in this process; a `.node`
// addon, which no host can run, only with --trust-native-addon.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';

const cli = path.resolve('bin/ouroboros.js');
const twin = kernelModulePath('reference_twin');
const nodeKernel = kernelModulePath('reference').replace(/reference\.so$/, 'node_reference_v2.node');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The reference kernel with a constructor that writes `marker` when it can: where it runs shows in the file system. */
function referenceThatMarks(dir: string, marker: string): string {
  const constructor = path.join(dir, 'marks.cpp');
  writeFileSync(
    constructor,
    `#include <cstdio>\n__attribute__((constructor)) static void mark() {\n  if (std::FILE* file = std::fopen("${marker}", "w")) std::fclose(file);\n}\n`,
  );
  const output = path.join(dir, 'marks.so');
  execFileSync('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-Icpp/include', '-Icpp/kernels', 'cpp/kernels/reference.cpp', constructor, '-o', output]);
  return output;
}

describe('simulate --kernel', () => {
  let dir: string;
  let marker: string;
  let module: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-simulate-kernel-'));
    marker = path.join(dir, 'constructor-ran-here');
    module = referenceThatMarks(dir, marker);
  });

  it('runs a .so in a kernel host, with the physics of the kernel it is', async () => {
    const { code, stdout, stderr } = await run('simulate', '--extents', '24,20', '--threads', '1', '--steps', '40', '--json', '--kernel', twin);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ kernel: 'reference-twin', kernelConfined: true, steps: 40 });
    expect(summary.energyDrift).toBeLessThan(1e-12);
  });

  it("never runs a .so's constructor in this process: the host stops it, and the run is refused naming the file and why", async () => {
    const { code, stdout, stderr } = await run('simulate', '--extents', '24,20', '--threads', '1', '--steps', '40', '--json', '--kernel', module);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    // The call is named only where this process may read the kernel's log (ts/modules/kernel-log.ts).
    expect(stderr.startsWith(`ouroboros: cannot load kernel module ${module}: `)).toBe(true);
    expect(stderr).toMatch(/: the kernel host was killed by its seccomp filter \(SIGSYS\): a forbidden system call( \(openat\))?\n$/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a .node addon unless the user trusts it, and then runs it in this process', async () => {
    const refused = await run('simulate', '--extents', '24,20', '--steps', '10', '--kernel', nodeKernel);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^ouroboros: cannot load kernel module .*node_reference_v2\.node: a \.node addon is Node code and cannot run confined in a kernel host; pass --trust-native-addon only if you trust it/,
    );
    const trusted = await run('simulate', '--extents', '24,20', '--threads', '1', '--steps', '10', '--json', '--kernel', nodeKernel, '--trust-native-addon');
    expect(trusted.code).toBe(0);
    expect(JSON.parse(trusted.stdout)).toMatchObject({ kernel: 'node-reference-v2', kernelConfined: false, steps: 10 });
  });

  it('takes --trust-native-addon only with a module to trust', async () => {
    const { code, stderr } = await run('simulate', '--trust-native-addon');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ouroboros: --trust-native-addon is only used with --kernel <path> or --swap-every <duration>/);
  });
});
